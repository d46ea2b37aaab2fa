"""Raw byte streams over a websocket that first spoke JSON-RPC (the ``proxy.open`` upgrade).

Wire format, once the upgrading request's success response has been sent:

* a binary message with 1+ bytes is stream data, in order;
* an empty binary message is EOF in that direction (a half-close, like ``shutdown(SHUT_WR)``);
* text messages stay JSON-RPC (control: notifications, further calls);
* closing the websocket ends the stream both ways: code 1000 is a clean end, code 4000 carries
  a machine-readable error kind as the close reason.

Both ends use the same ``RawStream``; the bounded inbox gives back-pressure all the way to the
peer's socket (the connection's reader blocks, websockets stops reading the transport).
Stdlib + asyncio only: the ProxyCommand relay imports it.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Protocol

CHUNK = 64 * 1024
INBOX_LIMIT = 1024 * 1024
CLOSE_NORMAL = 1000
CLOSE_STREAM_ERROR = 4000


class StreamClosed(ConnectionError):
    """The stream (its websocket) is closed; no more bytes can be written."""


class _Socket(Protocol):
    async def send(self, message: bytes) -> None: ...
    async def close(self, code: int = ..., reason: str = ...) -> None: ...


class RawStream:
    def __init__(self, ws: _Socket, *, opened: bool = True, limit: int = INBOX_LIMIT) -> None:
        self._ws = ws
        self._limit = limit
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._eof = False
        self._closed = False
        self._error: str | None = None
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._opened = asyncio.Event()
        self._accepting = opened
        if opened:
            self._opened.set()

    @property
    def error(self) -> str | None:
        """Why the stream ended, if not cleanly: the peer's kind (4000) or ``connection_lost``."""
        return self._error

    @property
    def closed(self) -> bool:
        return self._closed

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (a whole received chunk if ``n < 0``); ``b""`` at EOF or close."""
        while not self._chunks:
            if self._eof:
                return b""
            self._readable.clear()
            await self._readable.wait()
        chunk = self._chunks.popleft()
        if 0 < n < len(chunk):
            self._chunks.appendleft(chunk[n:])
            chunk = chunk[:n]
        self._size -= len(chunk)
        if self._size < self._limit:
            self._writable.set()
        return chunk

    async def write(self, data: bytes) -> None:
        await self._opened.wait()
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            await self._send(bytes(view[start : start + CHUNK]))

    async def write_eof(self) -> None:
        await self._opened.wait()
        await self._send(b"")

    async def end_clean(self) -> None:
        """Nothing to tell early: the relay process learns how the session ended from
        ``close`` (``SocketStream.end_clean`` is the descriptor path's early word)."""

    async def close(self, error: str | None = None) -> None:
        """End the stream; ``error`` (a short kind, never a secret) tells the peer why."""
        self._mark_closed()
        if error is None:
            await self._ws.close(CLOSE_NORMAL, "")
        else:
            await self._ws.close(CLOSE_STREAM_ERROR, error[:120])

    async def _send(self, data: bytes) -> None:
        if self._closed:
            raise StreamClosed("stream is closed")
        try:
            await self._ws.send(data)
        except Exception as exc:  # websockets.ConnectionClosed, without importing it here
            self._mark_closed()
            raise StreamClosed("stream is closed") from exc

    # Fed by the connection's reader loop -------------------------------------------------

    async def feed(self, data: bytes) -> None:
        if not data:
            self._eof = True
            self._readable.set()
            return
        while self._size >= self._limit and not self._closed:
            self._writable.clear()
            await self._writable.wait()
        if self._closed:
            return
        self._chunks.append(data)
        self._size += len(data)
        self._readable.set()

    @property
    def accepting(self) -> bool:
        """Whether the peer may send stream bytes yet (it has, or is about to get, the response)."""
        return self._accepting

    def accept(self) -> None:
        """Take the peer's bytes from now on: called just before the success response is sent,
        since the peer may answer it with data before we get to ``start``."""
        self._accepting = True

    def start(self) -> None:
        """Let our writes out: called once the success response is on the wire."""
        self._accepting = True
        self._opened.set()

    def connection_lost(self, code: int | None = None, reason: str | None = None) -> None:
        """The websocket is gone: a clean 1000, an error kind (4000), or anything else."""
        if code == CLOSE_STREAM_ERROR and reason:
            self._error = reason
        elif code is not None and code != CLOSE_NORMAL:
            self._error = "connection_lost"
        self._mark_closed()

    def _mark_closed(self) -> None:
        self._closed = True
        self._eof = True
        self._readable.set()
        self._writable.set()
        self._opened.set()
