"""The whole path, for real: the emulator, the daemon the relay autostarts, and OpenSSH.

One emulator and one daemon per module (the daemon is spawned by the first client, as it would
be for a user).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from bridge.emulator import start_in_thread
from bridge.emulator.config import default_config
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

from .e2e_helpers import FAST_DELAYS, Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = dataclasses.replace(default_config(), pacing="unthrottled", delays=FAST_DELAYS)
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
