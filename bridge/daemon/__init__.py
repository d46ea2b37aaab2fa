"""daemon subsystem."""
