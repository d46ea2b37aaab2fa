"""ssh subsystem."""
