"""navigator widgets."""
