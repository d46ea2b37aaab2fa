"""The CoreDriver's timer rule: it ticks the core when its deadline passes, never wakes the
loop for a deadline the core no longer has, and follows a deadline that moved later instead
of firing early for it. On a virtual clock (``VirtualLoop``): no test waits for real time."""

from __future__ import annotations

import asyncio
from typing import cast

from bridge.ssm.driver import CoreDriver

from .ssmcore_link import VirtualLoop


class _Core:
    """A core whose next deadline the test sets; records when the driver ticked it."""

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.ticks: list[float] = []

    def tick(self, now: float) -> None:
        self.ticks.append(now)

    def next_deadline(self) -> float | None:
        return self.deadline


def _armed(*deadlines: float | None) -> tuple[list[float], int, int]:
    """Arm a driver once per deadline (seconds from 0, or None for none), then run the
    virtual clock past them all: when the core was ticked, how often the owner was called,
    how many timers fired."""
    loop = VirtualLoop()
    core, due = _Core(), []
    driver = CoreDriver(core, lambda: due.append(1), cast(asyncio.AbstractEventLoop, loop))
    for deadline in deadlines:
        core.deadline = deadline
        driver.arm()
    fired = loop.run_until(100.0)
    return core.ticks, len(due), fired


def test_a_deadline_that_passes_ticks_the_core_once() -> None:
    assert _armed(0.02) == ([0.02], 1, 1)


def test_a_deadline_gone_before_it_passes_wakes_nothing() -> None:
    """Everything acked before the RTO: the timer must not fire (it did: a wake-up per
    message sent up while downloading)."""
    assert _armed(0.02, None) == ([], 0, 0)


def test_a_later_deadline_moves_the_timer() -> None:
    """A burst's acks came back before its retransmission timer: the timer moves to the next
    deadline (the pacing's) rather than firing early for nothing; it used to fire at 0.02,
    tick, re-arm: one wake-up per paced burst sent up."""
    assert _armed(0.02, 0.031) == ([0.031], 1, 1)


def test_an_earlier_deadline_moves_the_timer() -> None:
    assert _armed(0.031, 0.02) == ([0.02], 1, 1)


def test_the_same_deadline_keeps_the_timer() -> None:
    loop = VirtualLoop()
    core = _Core()
    driver = CoreDriver(core, lambda: None, cast(asyncio.AbstractEventLoop, loop))
    core.deadline = 0.5
    driver.arm()
    driver.arm()
    assert loop.scheduled == 1
