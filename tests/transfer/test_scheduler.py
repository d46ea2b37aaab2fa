"""The scheduler's windows, on a real helper lane: many small requests in flight per lane (a
tree of small files must not wait a round trip per file), few chunks (each megabytes of
memory)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bridge.transfer.lanes import Item, Lane, Scheduler, TransferError
from tests.transfer.transfer_helpers import local_lane


@dataclass
class _Gauge:
    """How many items are inside ``run`` at once; each waits until ``want`` have arrived
    (or ``patience`` seconds), so the peak shows the scheduler's window, not the helper's
    speed. A test that expects ``want`` to be reached waits long (a loaded machine is slow to
    start them all, and the wait ends when they are in); one that expects a smaller window
    waits a short while, which always runs out."""

    want: int
    patience: float
    now: int = 0
    peak: int = 0
    full: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Probe:
    gauge: _Gauge
    heavy: bool

    async def run(self, lane: Lane) -> list[Item]:
        g = self.gauge
        g.now += 1
        g.peak = max(g.peak, g.now)
        if g.now >= g.want:
            g.full.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(g.full.wait(), g.patience)
        await lane.request("list", {"path": ".", "top": True})
        g.now -= 1
        return []


def _peak(tmp_path: Path, heavy: bool, want: int, patience: float) -> int:
    async def main() -> int:
        lane, _ = await local_lane(0, tmp_path)
        gauge = _Gauge(want, patience)
        try:
            await Scheduler([lane]).run([_Probe(gauge, heavy) for _ in range(2 * want)])
        finally:
            await lane.close()
        return gauge.peak

    return asyncio.run(main())


def test_small_items_keep_many_requests_in_flight(tmp_path: Path) -> None:
    assert _peak(tmp_path, heavy=False, want=32, patience=30) == 32


def test_chunks_stay_within_the_window(tmp_path: Path) -> None:
    assert _peak(tmp_path, heavy=True, want=8, patience=0.5) == 4


@dataclass
class _Spread:
    """Which lane ran each chunk; each waits until ``want`` chunks run at once (or 30 s: the
    wait ends when they are in, and a loaded machine is slow to start them all), so a lane
    hoarding chunks shows as fewer lanes."""

    want: int
    lanes: list[int] = field(default_factory=list)
    full: asyncio.Event = field(default_factory=asyncio.Event)
    heavy: bool = True

    async def run(self, lane: Lane) -> list[Item]:
        self.lanes.append(lane.index)
        if len(self.lanes) >= self.want:
            self.full.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.full.wait(), 30)
        await lane.request("list", {"path": ".", "top": True})
        return []


def test_a_files_chunks_spread_over_every_lane(tmp_path: Path) -> None:
    """As many chunks as lanes: each lane carries one, at the same time (a single queue let
    the first lane's workers take them all and the copy ran over one lane)."""

    async def main() -> list[int]:
        lanes = [(await local_lane(i, tmp_path))[0] for i in range(8)]
        spread = _Spread(8)
        try:
            await Scheduler(lanes).run([spread] * 8)
        finally:
            await asyncio.gather(*(lane.close() for lane in lanes))
        return spread.lanes

    assert sorted(asyncio.run(main())) == list(range(8))


@dataclass
class _Killer:
    """Kills its lane's helper, then asks it something: the lane dies under a chunk."""

    helper: asyncio.subprocess.Process
    heavy: bool = True

    async def run(self, lane: Lane) -> list[Item]:
        self.helper.kill()
        await self.helper.wait()
        await lane.request("list", {"path": ".", "top": True})
        return []


def test_the_only_lane_dying_under_a_chunk_fails_the_run(tmp_path: Path) -> None:
    """The lane's workers waiting for small items end too, so the run fails at once with
    "every lane failed" instead of waiting for ever."""

    async def main() -> str:
        lane, proc = await local_lane(0, tmp_path)
        try:
            with pytest.raises(TransferError) as failed:
                await asyncio.wait_for(Scheduler([lane]).run([_Killer(proc)]), 20)
        finally:
            await lane.close()
        return str(failed.value)

    assert asyncio.run(main()).startswith("every lane failed (lane 0:")
