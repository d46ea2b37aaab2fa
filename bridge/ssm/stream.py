"""The byte-stream face of a data channel: an ``asyncio.Transport`` for StreamReader/Writer.

It owns what sits between the application and the channel: the write buffer (bytes written
that the core has not taken yet) and the read gate (a full StreamReader stops the channel
reading the websocket). It talks to the channel only through the ``ByteChannel`` surface below.

Flow control counts every byte written and not yet sent: those buffered here and those the core
holds unframed (``ByteChannel.queued_bytes``, up to its 1 MiB send buffer). Above ``HIGH`` the
application is paused (``StreamWriter.drain()`` waits); it resumes below ``LOW``, checked after
every drain of the core (``feed``). Counting only this buffer (16/64 KiB marks), a paced upload
let the core fill to its 1 MiB and took ssh's bytes as ssh wrote them, ~32 KB at a time, each a
read and a wake-up of its own (about 20 per MiB); with the marks on the whole queue the
application's writer (the daemon's relay) stops reading its source while a quarter of a second
of pacing is queued, so the source's kernel buffer fills and is taken in one read a refill, in
the pacing tick's own wake-up (docs/design/efficiency.md, "The paced upload, fewer steps").
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

__all__ = ["HIGH", "LOW", "ByteChannel", "ChannelTransport"]

HIGH = 512 * 1024  # bytes written and not yet sent above which the application pauses
LOW = 256 * 1024  # ... and at or below which it resumes: ~0.27 s at the service's pacing


class ByteChannel(Protocol):
    """What the transport needs of its channel (``DataChannel`` provides it)."""

    @property
    def redacted_url(self) -> str: ...

    @property
    def is_closing(self) -> bool: ...

    @property
    def queued_bytes(self) -> int:
        """Bytes the core took and has not framed yet (pacing, window)."""
        ...

    def offer(self, data: bytes) -> int:
        """Hand bytes to the core now; returns how many it took (the rest stay buffered)."""
        ...

    def wake_writer(self) -> None: ...

    def close_soon(self) -> None: ...

    def abort(self) -> None: ...


class ChannelTransport(asyncio.Transport):
    """See the module docstring. Writes after close are dropped, as on a closed socket."""

    def __init__(self, channel: ByteChannel, protocol: asyncio.BaseProtocol) -> None:
        super().__init__(extra={"peername": channel.redacted_url})
        self._channel = channel
        self._protocol = protocol
        self._pending = bytearray()  # accepted from the application, not yet by the core
        self._high = HIGH
        self._low = LOW
        self._write_paused = False
        self._reading = asyncio.Event()
        self._reading.set()
        self.buffer_empty = asyncio.Event()  # for a Flag that must follow every byte written
        self.buffer_empty.set()

    # ---- for the channel ---------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        """Bytes written by the application and not yet taken by the core."""
        return len(self._pending)

    def feed(self, room: int) -> bool:
        """Offer up to ``room`` buffered bytes to the channel; True if any moved. Called after
        every drain of the core, so the flow control follows the core's queue too."""
        if room <= 0 or not self._pending:
            self._update_write_pressure()
            return False
        accepted = self._channel.offer(bytes(self._pending[:room]))
        del self._pending[:accepted]
        self._update_write_pressure()
        return accepted > 0

    async def wait_reading(self) -> None:
        """Return once the protocol wants data (at once unless reading is paused)."""
        if not self._reading.is_set():
            await self._reading.wait()

    # ---- asyncio.Transport -------------------------------------------------------------------

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def is_closing(self) -> bool:
        return self._channel.is_closing

    def close(self) -> None:
        self._channel.close_soon()

    def abort(self) -> None:
        self._channel.abort()

    def is_reading(self) -> bool:
        return self._reading.is_set()

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data or self._channel.is_closing:
            return
        if self._pending:
            self._pending += data
        else:
            raw = bytes(data)
            accepted = self._channel.offer(raw)
            if accepted < len(raw):
                self._pending += raw[accepted:]
        self._update_write_pressure()
        self._channel.wake_writer()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """The protocol has no half-close: like the plugin at stdin EOF, finish and close."""
        self._channel.close_soon()

    def get_write_buffer_size(self) -> int:
        """Bytes written and not yet sent: buffered here, or in the core unframed."""
        return len(self._pending) + self._channel.queued_bytes

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = HIGH if low is None else 2 * low
        if low is None:
            low = high // 2
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        self._update_write_pressure()

    def _update_write_pressure(self) -> None:
        if self._pending:
            self.buffer_empty.clear()
        else:
            self.buffer_empty.set()
        size = len(self._pending) + self._channel.queued_bytes
        if not self._write_paused and size > self._high:
            self._write_paused = True
            self._protocol.pause_writing()
        elif self._write_paused and size <= self._low:
            self._write_paused = False
            self._protocol.resume_writing()
