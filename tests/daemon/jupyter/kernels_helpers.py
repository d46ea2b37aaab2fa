"""What the kernel tests import: the sandbox they share (built by the ``stack`` fixture), with
the emulator context and the space's home directory the tests look into."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge.emulator import start_in_thread
from bridge.emulator.config import DelaysConfig, default_config
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

__all__ = ["Stack"]


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


@contextlib.contextmanager
def running_stack(home: Path) -> Iterator[Stack]:
    """One fast emulator and an autostarted daemon under ``home``, stopped on exit (shared by the
    Jupyter and transfer end-to-end tests, each through its own package-scoped fixture)."""
    config = dataclasses.replace(
        default_config(),
        pacing="unthrottled",
        delays=DelaysConfig(
            app_start=0.2, app_stop=0.1, space_update=0.1, start_session_failure_window=0.2
        ),
    )
    with start_in_thread(config) as emulator:
        stack = Stack.create(home, emulator.env, extra=FAST_DAEMON, emulator=emulator)
        try:
            yield stack
        finally:
            stack.stop_daemon()
