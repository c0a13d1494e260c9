"""step widgets."""
