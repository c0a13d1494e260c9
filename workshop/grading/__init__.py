"""The instructor's and the CI job's tools: grading submissions in a sandbox (grade, jobs, job,
submission), the gradebook's reports, and the room's view of who is where."""
