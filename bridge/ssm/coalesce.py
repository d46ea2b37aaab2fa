"""The channel's writer: drains the core onto the websocket, coalescing bulk, never interactive.

Paced at ~1000 messages/s, every message (and every ack) would otherwise be its own syscall and
wake-up on both ends; holding a batch for a few ms after the previous write turns that into a
handful of frames per write, well inside the pacing burst. A wake-up with nothing the core
would send now (a read of acks during an upload, ssh's bytes while the token bucket refills)
neither holds nor drains: it feeds the core and re-arms the driver, whose timer brings the
next batch. ``poke`` does that, and the write of a batch that needs no hold and no wait, from
the caller's own step (the pacing timer's, the read loop's, the application's write); only a
hold or a socket that must drain goes through the writer task. What is held: batches of acks only,
and data while many messages are in flight (a transfer). What goes at once: data with little in
flight (a keystroke, a request), even if an ack batch is being held, so coalescing never adds
latency to interactive use.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import ClientConnection

from bridge.ssm.driver import CoreDriver
from bridge.ssm.sequenced import SequencedCore
from bridge.ssm.stream import ChannelTransport
from bridge.ssm.wsbatch import can_write_now, send_batch, write_batch

__all__ = ["WriteScheduler"]

INTERACTIVE_BYTES = 4096  # at most this much waiting to be sent: not a bulk transfer
INTERACTIVE_IN_FLIGHT = 8  # at most this many unacked data messages: likewise


class WriteScheduler:
    """One per channel; ``run(ws)`` once per websocket; ``poke()`` whenever the core may have
    output (``wake()`` to leave it all to the writer task)."""

    def __init__(
        self,
        core: SequencedCore,
        driver: CoreDriver,
        transport: ChannelTransport,
        coalesce: float,
    ) -> None:
        self._core = core
        self._driver = driver
        self._transport = transport
        self._coalesce = coalesce
        self._wake = asyncio.Event()
        self._ws: ClientConnection | None = None  # while ``run`` writes to it
        self._idle = False  # ``run`` waits for a wake, holding nothing: ``poke`` may act
        self._last_write = -coalesce
        self.writes = 0  # batches written to the websocket(s)
        self.holds = 0  # coalescing holds started (each one timer and at least one wake-up)

    def wake(self) -> None:
        self._wake.set()

    def poke(self) -> None:
        """Act on the core's output from the caller's own step (the pacing timer, the read
        loop, a write of the application) when that needs no wait; else ``wake()``.

        With nothing the core would send now (a read of acks during an upload, bytes offered
        while the bucket refills) that is feeding it and re-arming the driver; with frames to
        send past the coalescing interval (or interactive ones) and a websocket that takes
        them at once, one write. Done by the writer task instead, each cost a loop iteration
        and a task step more: the timer's wake-up, or the read's, woke the task, which did
        the same work one turn later (about 75 iterations per MiB of a paced upload). The
        writer task still holds, waits for the socket's drain and ends with the websocket.
        """
        ws = self._ws
        if ws is None or not self._idle or ws.transport.is_closing():
            self.wake()
            return
        core = self._core
        now = asyncio.get_running_loop().time()
        if not core.has_output(now) and (
            not self._transport.feed(core.writable()) or not core.has_output(now)
        ):
            self._driver.arm()
            return
        if (now < self._last_write + self._coalesce and not self.interactive()) or not (
            can_write_now(ws)
        ):
            self.wake()  # the writer holds, or waits for the socket
            return
        self._send_now(ws, now)

    def interactive(self) -> bool:
        """A little data waits and little is in flight: someone is waiting for exactly this
        (a keystroke, a request), so it goes now. A transfer has a backlog or a full window."""
        core = self._core
        waiting = core.queued_bytes + self._transport.buffered
        return 0 < waiting <= INTERACTIVE_BYTES and core.in_flight <= INTERACTIVE_IN_FLIGHT

    async def run(self, ws: ClientConnection) -> None:
        """Write until ``ws`` is closing (then return: the channel's supervisor takes over)."""
        self._ws = ws
        try:
            await self._run(ws)
        finally:
            self._ws = None
            self._idle = False

    async def _run(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        wake, core = self._wake, self._core
        wake.set()  # whatever queued while we were away (or before the first dial)
        while True:
            self._idle = True
            await wake.wait()
            self._idle = False
            wake.clear()
            if ws.transport.is_closing():
                return
            now = loop.time()
            if core.has_output(now):
                # Hold before draining, so frames are stamped when they really leave (RTO).
                # Without output (woken by acks, or by bytes while the bucket refills) there
                # is nothing to hold: the driver's timer brings us back when there is.
                if now < self._last_write + self._coalesce and not self.interactive():
                    await self._hold(self._last_write + self._coalesce)
                    if ws.transport.is_closing():
                        return
                if can_write_now(ws):
                    self._send_now(ws, loop.time())
                    continue
                frames = core.frames_to_send(loop.time())
                if self._transport.feed(core.writable()):
                    wake.set()  # framing freed core buffer: refill it and come round again
                if frames:
                    await send_batch(ws, frames)
                    self.writes += 1
                    self._last_write = loop.time()
            elif self._transport.feed(core.writable()):
                wake.set()
            self._driver.arm()

    async def _hold(self, deadline: float) -> None:
        """Wait until ``deadline`` unless the output turns interactive first. One plain timer
        per hold, setting the wake event: an ``asyncio.timeout`` per wait cost a timer each
        wake-up inside the hold and a cancellation to end it."""
        self.holds += 1
        wake = self._wake
        held = [True]  # cleared by the timer: the loop may run it a hair early
        timer = asyncio.get_running_loop().call_at(deadline, _expire, held, wake)
        while held[0] and not self.interactive():
            await wake.wait()
            wake.clear()
        timer.cancel()

    def _send_now(self, ws: ClientConnection, now: float) -> None:
        """Drain the core onto ``ws`` in one write (it takes it without waiting), feed the core
        what the framing made room for, and re-arm the driver."""
        core = self._core
        frames = core.frames_to_send(now)
        fed = self._transport.feed(core.writable())
        if frames:
            write_batch(ws, frames)
            self.writes += 1
            self._last_write = now
        if fed and core.has_output(now):
            self.wake()  # the bytes just fed may go now too (an unthrottled channel)
        self._driver.arm()


def _expire(held: list[bool], wake: asyncio.Event) -> None:
    held[0] = False
    wake.set()
