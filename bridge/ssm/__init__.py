"""ssm subsystem."""
