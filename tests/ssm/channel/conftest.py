"""Fixtures: the real SessionBroker on loopback (unthrottled or realistically paced) and a harness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.emulator.agent import SessionBroker

from .channel_helpers import Harness, Space


async def _harness(tmp_path: Path, pacing: str) -> AsyncIterator[Harness]:
    broker = SessionBroker(pacing=pacing)  # type: ignore[arg-type]
    await broker.start()
    space = Space(tmp_path)
    harness = Harness(broker, space)
    try:
        yield harness
    finally:
        await harness.close()
        await broker.stop()
        await space.close()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in _harness(tmp_path, "unthrottled"):
        yield h


@pytest.fixture
async def realistic(tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in _harness(tmp_path, "realistic"):
        yield h
