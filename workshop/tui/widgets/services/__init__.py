"""services widgets."""
