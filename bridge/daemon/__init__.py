"""The local daemon (see docs/design/daemon-api.md). Kept empty: the relay imports the client."""
