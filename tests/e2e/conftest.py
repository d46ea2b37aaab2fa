"""The whole path, for real: the emulator, the daemon the relay autostarts, and OpenSSH.

One emulator and one daemon per module (the daemon is spawned by the first client, as it would
be for a user).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from bridge.emulator import start_in_thread
from bridge.emulator.config import DelaysConfig, EmulatorConfig, default_config
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = dataclasses.replace(default_config(), pacing="unthrottled", delays=FAST_DELAYS)
    yield from running_stack(config, tmp_path_factory)
