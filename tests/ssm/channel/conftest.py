"""Fixtures: the real SessionBroker on loopback (unthrottled or realistically paced) and a harness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .channel_helpers import Harness, harness_for


async def _harness(tmp_path: Path, pacing: str) -> AsyncIterator[Harness]:
    async with harness_for(tmp_path, pacing) as harness:
        yield harness


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in _harness(tmp_path, "unthrottled"):
        yield h


@pytest.fixture
async def realistic(tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in _harness(tmp_path, "realistic"):
        yield h
