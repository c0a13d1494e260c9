"""Running checks for a learner and an author: a lab's checks in a child pytest process (checks), the
learner's session (session), and the author's proofs (selftest, validate). Above the environment,
below grading and the app."""
