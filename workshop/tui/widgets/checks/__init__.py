"""checks widgets."""
