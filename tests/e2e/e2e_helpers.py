"""What the e2e tests import: the sandbox they share (built by the ``stack`` fixture), and
``running_stack`` for a module that needs an emulator of its own configuration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.emulator import start_in_thread
from bridge.emulator.config import DelaysConfig, EmulatorConfig
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

__all__ = ["FAST_DELAYS", "Stack", "running_stack"]

Stack = Sandbox  # what the e2e tests call the sandbox they share

FAST_DELAYS = DelaysConfig(
    app_start=0.3, app_stop=0.2, space_update=0.1, start_session_failure_window=0.3
)


def running_stack(
    config: EmulatorConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """An emulator with ``config`` and a sandbox on it; the daemon is stopped at the end."""
    with start_in_thread(config) as emulator:
        stack = Sandbox.create(
            tmp_path_factory.mktemp("home"),
            emulator.env,
            extra=FAST_DAEMON,
            emulator=emulator,
        )
        try:
            yield stack
        finally:
            stack.stop_daemon()
