"""One emulator and one autostarted daemon for the module, as a user's machine would have them.

The daemon is spawned by the first call, with a temp HOME / runtime / state directory, and shut
down at the end. Notebook traffic goes through the daemon's local Jupyter URL only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from bridge.emulator import start_in_thread
from bridge.emulator.config import DelaysConfig, default_config
from bridge.testing.sandbox import FAST_DAEMON

from .kernels_helpers import Stack


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = dataclasses.replace(
        default_config(),
        pacing="unthrottled",
        delays=DelaysConfig(
            app_start=0.2, app_stop=0.1, space_update=0.1, start_session_failure_window=0.2
        ),
    )
    with start_in_thread(config) as emulator:
        stack = Stack.create(
            tmp_path_factory.mktemp("home"), emulator.env, extra=FAST_DAEMON, emulator=emulator
        )
        try:
            yield stack
        finally:
            stack.stop_daemon()
