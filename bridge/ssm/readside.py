"""The read side of a data channel: the loop that reads the websocket, feeds the core, and sends
what a read brought on its way (its data to the application, its acks to the service), each
straight out from the loop's own step when it can be.

Without this, one read of the websocket cost three more loop steps: the read loop's, then the
writer task's (the acks: ``coalesce.WriteScheduler``) and, through the ``StreamReader``, the
relay's task that copies the data to ssh's socket. Both hops only wait for one loop turn and do
one write; done in the read loop's own step the write is the same, the turns and task steps
are not (docs/design/efficiency.md, "Fewer, larger reads").

* **Reads** (``ReadSide.run``): every message one socket read brought (``wsbatch.receiver_for``:
  up to ``MAX_READ_BATCH``) goes to the core at once; then, while data streams in bulk,
  reading pauses for ``options.read_hold`` so the next read gathers more (``readhold``).
* **Acks** (``write_acks``): when the core has nothing to send but control frames (no bytes of
  the application waiting to be framed: an upload keeps its writer and its coalescing), the
  websocket is open and under its write high-water mark, and the last direct write is at least
  the writer's coalescing interval old, the read loop drains the core and writes the frames
  itself; otherwise the writer is woken as before (and holds, coalesces, drains).
* **Data** (``deliver``): a sink the stream's user attached (``DataChannel.deliver_to``: the
  daemon's relay to ssh's socket) takes a read's data when the ``StreamReader`` holds nothing
  (so order is kept: what the relay took from the reader it wrote in the same step) and the
  sink's socket has nothing buffered; otherwise the data goes into the ``StreamReader`` as
  before, and its back-pressure (a full reader pauses reading the websocket) applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection

from bridge.ssm.driver import CoreDriver
from bridge.ssm.options import ChannelOptions
from bridge.ssm.readhold import ReadHold
from bridge.ssm.sequenced import SequencedCore
from bridge.ssm.stream import ChannelTransport
from bridge.ssm.wsbatch import can_write_now, receiver_for, write_batch

__all__ = ["MAX_READ_BATCH", "ReadSide", "Sink"]

MAX_READ_BATCH = 512
"""Frames taken from the websocket before acting on them: bounds what one delivery hands the
application (a reader that paused us sees at most this much more) and how long acks wait. Well
above what a hold gathers (~100 at the default 100 ms and the service's pacing, at most ~230 at
twice its rate): a held read must be taken whole, or its second part's acks, the shortest
waits, end the sender's RTT samples and its RTO falls under the next hold (``readhold``; at 128
a 150 ms hold was split and drew resends)."""

Sink = Callable[[bytes], bool]
"""Takes all of the bytes and returns True, or takes none and returns False."""


class ReadSide:
    """One per channel; ``run(ws)`` once per websocket. See the module docstring."""

    def __init__(
        self,
        core: SequencedCore,
        driver: CoreDriver,
        transport: ChannelTransport,
        reader: asyncio.StreamReader,
        protocol: asyncio.StreamReaderProtocol,
        options: ChannelOptions,
    ) -> None:
        self._core = core
        self._driver = driver
        self._transport = transport
        self._reader = reader
        self._protocol = protocol
        self._options = options
        self._last_acks = float("-inf")
        self.sink: Sink | None = None
        self.frames = 0  # frames read on the current connection (``connected`` zeroes it)
        self.reads = 0  # batches taken from the websocket
        self.holds = 0  # of which reading was then held

    def connected(self) -> None:
        self.frames = 0

    async def run(
        self,
        ws: ClientConnection,
        pump: Callable[[bool], None],
        wake_writer: Callable[[], None],
        running: Callable[[], bool],
    ) -> None:
        """Read ``ws`` while ``running()``: each batch into the core, then ``pump(False)``
        (events delivered, no wake of the writer), then the acks (``write_acks``, else
        ``wake_writer()``), then the hold (``readhold``)."""
        core, transport = self._core, self._transport
        stats = core.stats
        loop = asyncio.get_running_loop()
        receiver = receiver_for(ws)
        hold = ReadHold(self._options.read_hold)
        while running():
            await transport.wait_reading()
            batch = await receiver.receive(MAX_READ_BATCH)
            # The service sends only binary frames after the open.
            frames = [frame for frame in batch if not isinstance(frame, str)]
            self.frames += len(frames)
            before = stats.bytes_received
            now = loop.time()
            core.receive_batch(frames, now)
            pump(False)
            if not self.write_acks(ws, now):
                wake_writer()
            self.reads += 1
            delivered = stats.bytes_received - before
            seconds = hold.after_read(delivered, len(frames), receiver.waiting > 0, now)
            if seconds and receiver.hold(seconds):
                self.holds += 1

    def deliver(self, data: bytes) -> None:
        """Hand ``data`` (the next bytes in order) to the application."""
        sink = self.sink
        if sink is None or _holds_data(self._reader) or not sink(data):
            self._protocol.data_received(data)

    def write_acks(self, ws: ClientConnection, now: float) -> bool:
        """Write what the core has to send now, if it is only control frames and the
        websocket takes them at once; False: nothing written, the writer must be woken."""
        core = self._core
        if (
            core.queued_bytes
            or self._transport.buffered
            or now - self._last_acks < self._options.coalesce
            or not can_write_now(ws)
        ):
            return False
        frames = core.frames_to_send(now)
        if frames:
            write_batch(ws, frames)
            self._last_acks = now
        self._driver.arm()
        return True


def _holds_data(reader: asyncio.StreamReader) -> bool:
    """Whether ``reader`` has bytes its user has not read yet (True when its internals look
    different from CPython's: then nothing is delivered around it)."""
    buffer = getattr(reader, "_buffer", None)
    return not isinstance(buffer, bytearray) or bool(buffer)
