"""Drive a sans-I/O protocol core on an asyncio loop: one ``loop.call_at`` timer, one rule.

Both kinds of core (the data channel's ``SequencedCore`` and ``smux_proto.SmuxCore``) are
written without sockets or a loop: they take ``now`` and say when they next have timed work (``next_deadline()``); someone
must call ``tick(now)`` then. That someone is this class, for the transport, the emulator's
agent sessions, smux sessions and the test clients alike, so the timer rule lives once:

* ``arm()`` after every drain of the core's output: the one timer follows the core's deadline,
  earlier or later. A deadline that moved later (the acks of a burst came back before its
  retransmission timer) re-schedules the timer rather than keeping the earlier one: kept, it
  fired for nothing, a wake-up of an otherwise idle loop (~0.4 ms of cache-cold CPU here) per
  paced burst sent up, against ~2 µs to cancel and re-schedule. No deadline at all (everything
  acked, nothing to send) cancels the timer, for the same reason (while downloading that was a
  wake-up for every few messages sent up: ssh's window adjusts).
* when the timer fires: ``core.tick(now)``, then the owner's ``on_due()`` (deliver events,
  drain output, which arms again).
* ``soon()`` runs ``on_due()`` once on the next loop turn however often it is asked, so a burst
  of received frames costs one drain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

__all__ = ["CoreDriver", "TimedCore"]


class TimedCore(Protocol):
    """What the driver needs of a core: its timed work."""

    def tick(self, now: float) -> None: ...

    def next_deadline(self) -> float | None: ...


class CoreDriver:
    """The timer and the deferred drain of one core; see the module docstring."""

    __slots__ = ("_at", "_core", "_loop", "_on_due", "_soon", "_stopped", "_timer")

    def __init__(
        self,
        core: TimedCore,
        on_due: Callable[[], None],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._core = core
        self._on_due = on_due
        self._loop = loop or asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._at = 0.0
        self._soon = False
        self._stopped = False

    def now(self) -> float:
        return self._loop.time()

    def tick(self) -> None:
        """Run the core's timed work now (before draining its output)."""
        self._core.tick(self._loop.time())

    def arm(self) -> None:
        """Follow ``core.next_deadline()``; call after draining the core's output."""
        if self._stopped:
            return
        deadline = self._core.next_deadline()
        timer = self._timer
        if deadline is None:
            if timer is not None:  # nothing timed is left: it would only wake the loop for nothing
                timer.cancel()
                self._timer = None
            return
        if timer is not None:
            if self._at == deadline:
                return
            timer.cancel()
        self._at = deadline
        self._timer = self._loop.call_at(deadline, self._fire)

    def soon(self) -> None:
        """Run ``on_due()`` on the next loop turn (once, however often asked before then)."""
        if not self._soon and not self._stopped:
            self._soon = True
            self._loop.call_soon(self._run_soon)

    def cancel(self) -> None:
        """Drop the pending timer (the core is detached for now; ``arm()`` sets it again)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def stop(self) -> None:
        """For good: no timer, no deferred drain, ``arm()`` and ``soon()`` do nothing."""
        self._stopped = True
        self.cancel()

    def _run_soon(self) -> None:
        self._soon = False
        if not self._stopped:
            self._on_due()

    def _fire(self) -> None:
        self._timer = None
        if self._stopped:
            return
        self._core.tick(self._loop.time())
        self._on_due()
