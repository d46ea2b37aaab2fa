"""The channel's writer: drains the core onto the websocket, coalescing bulk, never interactive.

Paced at ~1000 messages/s, every message (and every ack) would otherwise be its own syscall and
wake-up on both ends; holding a batch for a few ms after the previous write turns that into a
handful of frames per write, well inside the pacing burst. A wake-up with nothing the core
would send now (a read of acks during an upload, ssh's bytes while the token bucket refills)
neither holds nor drains: it feeds the core and re-arms the driver, whose timer brings the
writer back when the bucket allows the next batch. What is held: batches of acks only,
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
from bridge.ssm.wsbatch import send_batch

__all__ = ["WriteScheduler"]

INTERACTIVE_BYTES = 4096  # at most this much waiting to be sent: not a bulk transfer
INTERACTIVE_IN_FLIGHT = 8  # at most this many unacked data messages: likewise


class WriteScheduler:
    """One per channel; ``run(ws)`` once per websocket, ``wake()`` whenever the core has output."""

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
        self.writes = 0  # batches written to the websocket(s)
        self.holds = 0  # coalescing holds started (each one timer and at least one wake-up)

    def wake(self) -> None:
        self._wake.set()

    def interactive(self) -> bool:
        """A little data waits and little is in flight: someone is waiting for exactly this
        (a keystroke, a request), so it goes now. A transfer has a backlog or a full window."""
        core = self._core
        waiting = core.queued_bytes + self._transport.buffered
        return 0 < waiting <= INTERACTIVE_BYTES and core.in_flight <= INTERACTIVE_IN_FLIGHT

    async def run(self, ws: ClientConnection) -> None:
        """Write until ``ws`` is closing (then return: the channel's supervisor takes over)."""
        loop = asyncio.get_running_loop()
        wake, coalesce, core = self._wake, self._coalesce, self._core
        wake.set()  # whatever queued while we were away (or before the first dial)
        last_write = -coalesce
        while True:
            await wake.wait()
            wake.clear()
            if not core.has_output(loop.time()):
                # Woken by acks or by bytes to send while the bucket refills: nothing to write
                # or hold; the driver's timer (pacing, retransmission) wakes us when there is.
                if ws.transport.is_closing():
                    return
                if self._transport.feed(core.writable()):
                    wake.set()
                self._driver.arm()
                continue
            # Hold before draining, so frames are stamped when they really leave (RTO). One
            # plain timer per hold, setting the same event: an ``asyncio.timeout`` per wait
            # cost a timer each wake-up inside the hold and a cancellation to end it.
            deadline = last_write + coalesce
            if loop.time() < deadline and not self.interactive():
                self.holds += 1
                held = [True]  # cleared by the timer: the loop may run it a hair early
                timer = loop.call_at(deadline, _expire, held, wake)
                while held[0] and not self.interactive():
                    await wake.wait()
                    wake.clear()
                timer.cancel()
            if ws.transport.is_closing():
                return
            frames = core.frames_to_send(loop.time())
            if self._transport.feed(core.writable()):
                wake.set()  # framing freed core buffer: refill it and come round again
            if frames:
                await send_batch(ws, frames)
                self.writes += 1
                last_write = loop.time()
            self._driver.arm()


def _expire(held: list[bool], wake: asyncio.Event) -> None:
    held[0] = False
    wake.set()
