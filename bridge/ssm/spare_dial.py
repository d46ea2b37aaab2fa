"""A TLS connection kept open ahead of the next cold channel to a ``wss`` endpoint.

A cold channel pre-dials its websocket's connection beside StartSession (``predial.py``).
StartSession takes one round trip, and so does TCP's handshake, so that one hides; TLS's
handshake is one round trip more, which every cold channel still waited for on the service's
``wss://`` endpoint (docs/design/efficiency.md, "A spare TLS connection"). So once a secure
target has been dialled, ``SpareDials`` keeps one more connection to it open and
TLS-handshaken (nothing sent on it: ``PreDial``) for the next cold channel there, and opens
another after each use.

* It is kept for ``idle`` seconds after the target's last use, then closed.
* A server that closes it is dialled again, unless the connection lived less than
  ``min_life`` seconds: a server that drops idle connections at once is not redialled in a
  loop (until the next use). How long the server let it live is learnt, per target: from
  then on each spare is replaced after ``RENEW`` of that time, before the server closes it,
  so a cold channel does not find its spare in the middle of a redial.
* A spare is never older than ``max_age`` (30 s): a connection that died silently (a NAT's
  timeout, a network change) is not kept for long, and one that spanned a sleep (the wall
  clock moved more than the monotonic one) is not used at all. If one is used dead anyway,
  the dial gives its upgrade ``PREDIALED_ANSWER`` (2 s) before it dials afresh (``dial.py``).
* Plain ``ws`` targets get none: TCP's round trip hides behind StartSession's anyway.

The cost: one idle TCP and TLS connection to the region's ``ssmmessages`` endpoint while a
space there was used in the last ``idle`` seconds, and one TLS handshake each time the service
closes it or it reaches ``max_age`` (two a minute, unless the service closes it sooner). How long the service keeps a
connection that sends no request is not documented [I]; the emulator's websocket server closes
it after 10 s, the websockets library's default, so there a spare is renewed every 7 s.
No SSM session is involved: nothing shows in Session Manager's history.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.ssm.predial import DialTarget, PreDial

__all__ = ["MAX_AGE", "MIN_LIFE", "RENEW", "REPLACE_AFTER", "SpareDials"]

log = logging.getLogger(__name__)

REPLACE_AFTER = 2.0  # seconds after a take: the new spare's handshake stays off the open's path
MIN_LIFE = 5.0  # seconds a spare must live for a server's close of it to be answered by another
RENEW = 0.7  # of the life the server last gave a spare: when the next one is replaced
MAX_AGE = 30.0  # seconds: a spare is replaced at this age anyway [I: NATs and middleboxes]
SLEPT = 2.0  # seconds the wall clock may run ahead of the monotonic one before a spare is stale


@dataclass(slots=True)
class _Target:
    """One secure target's spare and timers."""

    spare: PreDial | None = None
    born: float = 0.0  # the spare's birth on the loop's (monotonic) clock
    born_wall: float = 0.0  # and on the wall clock: a sleep moves only this one
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)  # by what they do

    def at(self, what: str, timer: asyncio.TimerHandle | None) -> None:
        """``timer`` does ``what`` now, in place of any earlier one (None: nothing does)."""
        earlier = self.timers.pop(what, None)
        if earlier is not None:
            earlier.cancel()
        if timer is not None:
            self.timers[what] = timer

    def cancel(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        if self.spare is not None:
            spare, self.spare = self.spare, None
            spare.close()


class SpareDials:
    """``take(target)`` in place of ``PreDial.start(target)``, ``used(target)`` once a StreamUrl
    points there; ``close()`` at shutdown."""

    def __init__(
        self,
        *,
        idle: float,
        enabled: bool = True,
        replace_after: float = REPLACE_AFTER,
        min_life: float = MIN_LIFE,
        max_age: float = MAX_AGE,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = enabled
        self._idle = idle
        self._replace_after = replace_after
        self._min_life = min_life
        self._max_age = max_age
        self._wall = wall
        self._targets: dict[DialTarget, _Target] = {}
        self._lives: dict[DialTarget, float] = {}  # how long the server let a spare live
        self.dialled = 0  # spares opened
        self.taken = 0  # spares handed to a dial
        self.closed_by_server = 0  # spares the server closed before use

    def take(self, target: DialTarget | None) -> PreDial | None:
        """A connection to ``target``, open or opening: the spare when it is still usable,
        else a new pre-dial (None: nothing to dial, as ``PreDial.start``)."""
        if target is None:
            return None
        held = self._targets.get(target)
        spare = None
        if held is not None:
            spare, held.spare = held.spare, None
            held.at("renew", None)
            if spare is not None and self._slept_since(held):
                log.debug("spare connection to %s:%d spans a sleep: not used", *_where(target))
                spare.close()
                spare = None
        if spare is not None and spare.usable():
            log.debug("using the spare connection to %s:%d", *_where(target))
            self.taken += 1
            return spare
        if spare is not None:
            spare.close()
        return PreDial.start(target)

    def used(self, target: DialTarget | None) -> None:
        """A StreamUrl pointed at ``target`` (a guess is not enough: it may be wrong): for a
        ``wss`` target a spare opens ``replace_after`` seconds from now, unless one is held,
        and is kept until ``idle`` seconds from now."""
        if target is None or not target.secure or not self.enabled:
            return
        loop = asyncio.get_running_loop()
        held = self._targets.get(target)
        if held is None:
            held = self._targets[target] = _Target()
            log.info("keeping a spare TLS connection to %s:%d for %.0f s after its last use "
                     "(SMCONNECT_SPARE_DIAL=off: none)", *_where(target), self._idle)  # fmt: skip
        if held.spare is None:
            held.at("open", loop.call_later(self._replace_after, self._open, target))
        held.at("forget", loop.call_later(self._idle, self._forget, target))

    def spare(self, target: DialTarget) -> PreDial | None:
        """The spare held for ``target`` now, if any (what ``take`` would hand out)."""
        held = self._targets.get(target)
        return held.spare if held is not None else None

    def describe(self) -> list[dict[str, Any]]:
        """What ``sessions.status`` reports: each endpoint a spare is kept for, whether its
        spare is ``open``, ``opening`` or ``none`` (between two), and the spare's age."""
        now = asyncio.get_running_loop().time()
        described = []
        for target, held in self._targets.items():
            spare = held.spare
            state = "none" if spare is None else "open" if spare.opened() else "opening"
            described.append(
                {
                    "endpoint": f"{target.host}:{target.port}",
                    "state": state,
                    "age_s": None if spare is None else round(now - held.born, 1),
                }
            )
        return described

    def close(self) -> None:
        """Close every spare and stop opening new ones (daemon shutdown)."""
        self.enabled = False
        targets, self._targets = self._targets, {}
        for held in targets.values():
            held.cancel()

    def _open(self, target: DialTarget) -> None:
        held = self._targets.get(target)
        if held is None or held.spare is not None or not self.enabled:
            return
        spare: PreDial | None = None

        def lost() -> None:
            self._lost(target, spare)

        spare = PreDial.start(target, on_lost=lost)
        if spare is None:
            return
        loop = asyncio.get_running_loop()
        held.spare, held.born, held.born_wall = spare, loop.time(), self._wall()
        self.dialled += 1
        life = self._lives.get(target)
        renew = self._max_age if life is None else min(RENEW * life, self._max_age)
        held.at("renew", loop.call_later(renew, self._renew, target, spare))

    def _slept_since(self, held: _Target) -> bool:
        """The machine slept since the spare was born (its connection likely died unseen)."""
        monotonic = asyncio.get_running_loop().time() - held.born
        return self._wall() - held.born_wall - monotonic > SLEPT

    def _renew(self, target: DialTarget, spare: PreDial) -> None:
        """Replace ``spare`` before the server would close it (it closed the last one when
        this much older) or before it is ``max_age`` old."""
        held = self._targets.get(target)
        if held is None or held.spare is not spare:
            return
        held.spare = None
        spare.close()
        self._open(target)

    def _lost(self, target: DialTarget, spare: PreDial | None) -> None:
        """A spare's connection ended before anyone took it (closed by the server)."""
        held = self._targets.get(target)
        if held is None or spare is None or held.spare is not spare:
            return  # taken, replaced or given up by us: nothing to answer
        held.spare = None
        spare.close()
        self.closed_by_server += 1
        lived = asyncio.get_running_loop().time() - held.born
        if lived < self._min_life:
            log.debug("spare connection to %s:%d closed after %.1f s: not redialled",
                      *_where(target), lived)  # fmt: skip
            return
        self._lives[target] = min(lived, self._lives.get(target, lived))
        self._open(target)

    def _forget(self, target: DialTarget) -> None:
        """``idle`` seconds since the target's last use: its spare is no longer worth it."""
        held = self._targets.pop(target, None)
        if held is not None:
            log.info("no more spare TLS connection to %s:%d: unused for %.0f s",
                     *_where(target), self._idle)  # fmt: skip
            held.cancel()


def _where(target: DialTarget) -> tuple[str, int]:
    return target.host, target.port
