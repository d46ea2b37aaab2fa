"""aws subsystem."""
