"""The Textual app: a learner's whole workshop in one terminal (or browser) window."""
