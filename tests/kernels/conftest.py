"""One emulator and one autostarted daemon for the module, as a user's machine would have them.

The daemon is spawned by the first call, with a temp HOME / runtime / state directory, and shut
down at the end. Notebook traffic goes through the daemon's local Jupyter URL only.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.emulator import start_in_thread
from bridge.emulator.config import DelaysConfig, default_config
from bridge.testing.sandbox import FAST_DAEMON, Sandbox


@dataclasses.dataclass
class Stack(Sandbox):
    @property
    def context(self) -> dict[str, Any]:
        return {"endpoint_url": self.emu.endpoint_url}

    async def acall(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(self.call, method, params)

    def space_home(self, space: str) -> Path:
        """The home directory of the space's current app run (a new one per start)."""
        runs = sorted(self.emu.emulator.root.glob(f"*-{space}-*"), key=lambda p: p.stat().st_mtime)
        assert runs, f"space {space} has not run"
        return runs[-1] / "home" / "sagemaker-user"


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
