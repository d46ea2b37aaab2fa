"""emulator subsystem."""
