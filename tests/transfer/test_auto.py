"""``--lanes auto``: the growth rule on measured histories, and lanes joining a running copy."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from bridge.transfer.auto import AUTO_LANES, keep_growing
from bridge.transfer.engine import Stats, copy
from bridge.transfer.lanes import Lane
from tests.transfer.transfer_helpers import local_lane

MB = 1_000_000


def test_lanes_are_added_while_each_adds_half_a_lane() -> None:
    assert keep_growing([(2, 2 * MB)])  # nothing to compare yet
    assert keep_growing([(2, 2 * MB), (3, 2.9 * MB)])  # +0.9 of a 1 MB/s lane
    assert not keep_growing([(2, 2 * MB), (3, 2.4 * MB)])  # +0.4: the ceiling is elsewhere
    assert keep_growing([(4, 4 * MB), (5, 4.5 * MB)])  # exactly half a lane still counts
    assert not keep_growing([(AUTO_LANES - 1, 7 * MB), (AUTO_LANES, 8 * MB)])  # the cap
    assert not keep_growing([])


def test_lanes_added_during_a_copy_share_the_work(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(24 << 20))
    home = tmp_path / "home"
    home.mkdir()

    lanes: list[Lane] = []

    async def main() -> Stats:
        first, _ = await local_lane(0, home)
        lanes.append(first)

        async def grow(add: Callable[[Lane], None]) -> None:
            for i in (1, 2):
                lane, _ = await local_lane(i, home)
                lanes.append(lane)
                add(lane)

        try:
            return await copy("upload", [str(src)], "big.bin", [first], chunk=256 << 10, grow=grow)
        finally:
            for lane in lanes:
                await lane.close()

    stats = asyncio.run(main())
    assert stats.lanes == 3
    assert all(lane.wire_bytes > 1 << 20 for lane in lanes)  # the added lanes carried chunks
    assert (home / "big.bin").read_bytes() == src.read_bytes()
