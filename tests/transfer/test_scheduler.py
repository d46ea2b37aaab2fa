"""The scheduler's windows, on a real helper lane: many small requests in flight per lane (a
tree of small files must not wait a round trip per file), few chunks (each megabytes of
memory)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from bridge.transfer.lanes import Item, Lane, Scheduler
from tests.transfer.transfer_helpers import local_lane


@dataclass
class _Gauge:
    """How many items are inside ``run`` at once; each waits until ``want`` have arrived
    (or a short while), so the peak shows the scheduler's window, not the helper's speed."""

    want: int
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
            await asyncio.wait_for(g.full.wait(), 0.5)
        await lane.request("list", {"path": ".", "top": True})
        g.now -= 1
        return []


def _peak(tmp_path: Path, heavy: bool, want: int) -> int:
    async def main() -> int:
        lane, _ = await local_lane(0, tmp_path)
        gauge = _Gauge(want)
        try:
            await Scheduler([lane]).run([_Probe(gauge, heavy) for _ in range(2 * want)])
        finally:
            await lane.close()
        return gauge.peak

    return asyncio.run(main())


def test_small_items_keep_many_requests_in_flight(tmp_path: Path) -> None:
    assert _peak(tmp_path, heavy=False, want=32) == 32


def test_chunks_stay_within_the_window(tmp_path: Path) -> None:
    assert _peak(tmp_path, heavy=True, want=8) == 4
