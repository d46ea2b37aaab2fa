"""What the kernel tests import: the sandbox they share (built by the ``stack`` fixture), with
the emulator context and the space's home directory the tests look into."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from bridge.testing.sandbox import Sandbox

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
