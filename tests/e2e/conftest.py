"""The whole path, for real: the emulator, the daemon the relay autostarts, and OpenSSH.

One emulator and one daemon per module (the daemon is spawned by the first client, as it would
be for a user).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from bridge.emulator.config import default_config

from .e2e_helpers import FAST_DELAYS, Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = dataclasses.replace(default_config(), pacing="unthrottled", delays=FAST_DELAYS)
    yield from running_stack(config, tmp_path_factory)


@pytest.fixture(scope="module")
def warm_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Like ``stack``, with warm channels on and a short warm idle time."""
    config = dataclasses.replace(default_config(), pacing="unthrottled", delays=FAST_DELAYS)
    extra = {"SMCONNECT_WARM_CHANNELS": "on", "SMCONNECT_WARM_IDLE_SECONDS": "6"}
    yield from running_stack(config, tmp_path_factory, extra)
