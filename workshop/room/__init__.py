"""The room: an instructor's prepared machine serving forty learners (modules, programs, wheels, where
the room is), and the learner's side that joins it. A floor between the TUI and grading: headless."""
