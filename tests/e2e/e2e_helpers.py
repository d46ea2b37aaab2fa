"""What the e2e tests import: the sandbox they share (built by the ``stack`` fixture)."""

from __future__ import annotations

from bridge.emulator.config import DelaysConfig
from bridge.testing.sandbox import Sandbox

__all__ = ["FAST_DELAYS", "Stack"]

Stack = Sandbox  # what the e2e tests call the sandbox they share

FAST_DELAYS = DelaysConfig(
    app_start=0.3, app_stop=0.2, space_update=0.1, start_session_failure_window=0.3
)
