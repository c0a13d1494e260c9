"""output widgets."""
