"""A real stack for the proxy's own tests: the emulator, a sandbox daemon, and the space
``demo`` opened, so ``ssh sm-demo`` goes through the generated config."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from bridge.emulator.config import default_config
from bridge.testing.sandbox import Sandbox
from tests.e2e.e2e_helpers import FAST_DELAYS, running_stack


@pytest.fixture(scope="module")
def opened_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    config = dataclasses.replace(default_config(), pacing="unthrottled", delays=FAST_DELAYS)
    for stack in running_stack(config, tmp_path_factory):
        stack.call("space.open", {"space": "demo", "endpoint_url": stack.emu.endpoint_url})
        yield stack
