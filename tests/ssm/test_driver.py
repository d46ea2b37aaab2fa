"""The CoreDriver's timer rule on a real loop: it ticks the core when its deadline passes, and
never wakes the loop for a deadline the core no longer has."""

from __future__ import annotations

import asyncio

from bridge.ssm.driver import CoreDriver


class _Core:
    """A core whose next deadline the test sets; counts the driver's ticks."""

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.ticks = 0

    def tick(self, now: float) -> None:
        self.ticks += 1

    def next_deadline(self) -> float | None:
        return self.deadline


async def _armed(*deadlines: float | None) -> tuple[int, int]:
    """Arm a driver once per deadline (seconds from now, or None for none), then wait past
    them all: how often the core was ticked and the owner called."""
    loop = asyncio.get_running_loop()
    core, due = _Core(), []
    driver = CoreDriver(core, lambda: due.append(1), loop)
    for offset in deadlines:
        core.deadline = None if offset is None else loop.time() + offset
        driver.arm()
    await asyncio.sleep(0.06)
    return core.ticks, len(due)


async def test_a_deadline_that_passes_ticks_the_core_once() -> None:
    assert await _armed(0.02) == (1, 1)


async def test_a_deadline_gone_before_it_passes_wakes_nothing() -> None:
    """Everything acked before the RTO: the timer must not fire (it did: a wake-up per
    message sent up while downloading)."""
    assert await _armed(0.02, None) == (0, 0)


async def test_a_later_deadline_keeps_the_earlier_timer() -> None:
    """A deadline that moved later leaves the timer as it is: it fires early, ticks, re-arms."""
    ticks, _ = await _armed(0.02, 10)
    assert ticks == 1
