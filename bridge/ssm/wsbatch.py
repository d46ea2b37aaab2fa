"""Batched websocket writes (many binary messages, one socket write) and batched reads.

``Connection.send`` costs a send context (state check, write, drain) and a syscall per message;
at ~1000 SSM messages/s each way that was most of a channel's CPU. Here a batch is framed by
``frame_binary`` (RFC 6455 headers, a fresh mask per frame on the client side, the mask applied
by websockets' C ``apply_mask``) and handed to the transport as one buffer; that skips
websockets' per-frame ``Frame`` object, ``check`` and ``BytesIO`` serialization, which were the
largest single cost per message. When the connection is not a plain one (an extension such as
compression negotiated, a fragmented message in progress, debug logging on, or internals that
look different), each frame goes through ``protocol.send_binary`` as before.

On the read side, ``BatchReceiver`` (one per connection: ``receiver_for``) stands between the
transport and the connection on a plain client connection and cuts whole binary messages out
of each socket read itself, without websockets' per-frame parser generator, ``Frame`` and
``Assembler``; every other frame still goes through websockets, whole, so pings, pongs, close
and errors behave exactly as before. ``message_buffered`` tells the fallback reader that
``recv()`` has a whole message waiting. This is the only module that touches those
websockets internals; ``pyproject.toml`` pins the websockets range they were checked against
and ``tests/ssm/test_wsbatch.py`` fails with a clear message if they change.
"""

from __future__ import annotations

import asyncio
import os
import struct
import weakref
from collections import deque
from typing import Any

from websockets.asyncio.connection import Connection
from websockets.asyncio.messages import Assembler, SimpleQueue
from websockets.protocol import Protocol
from websockets.protocol import Side as WsSide
from websockets.protocol import State as WsState
from websockets.streams import StreamReader

try:  # the C version websockets ships for most platforms
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a pure-Python build of websockets
    from websockets.utils import apply_mask

__all__ = [
    "BatchReceiver",
    "can_write_now",
    "check_internals",
    "frame_binary",
    "message_buffered",
    "receiver_for",
    "send_batch",
    "write_batch",
]

# The methods we use of websockets beyond its public API, by owner (plus the ``protocol``,
# ``transport``, ``paused`` and ``recv_messages.frames.queue`` attributes of a connection and
# the parser's state, checked on a live one by the tests).
INTERNALS: dict[type, tuple[str, ...]] = {
    Connection: ("send_context",),
    Protocol: ("send_binary", "data_to_send", "parse"),
    Assembler: ("get",),
    SimpleQueue: ("get", "put"),
    StreamReader: ("at_eof", "read_exact"),
}


def check_internals() -> list[str]:
    """The websockets internals this module needs that the installed version lacks."""
    return [
        f"{owner.__module__}.{owner.__qualname__}.{name}"
        for owner, names in INTERNALS.items()
        for name in names
        if not callable(getattr(owner, name, None))
    ]


async def send_batch(ws: Connection, frames: list[bytes]) -> None:
    """Send ``frames`` as binary messages with one socket write, then wait for the drain.

    On an open plain connection whose write buffer is under its high-water mark this is one
    ``transport.write`` and nothing to wait for, which is all websockets' send context would
    do then (its drain returns at once); otherwise it runs inside that context, so its state
    checks (raising ConnectionClosed) and the drain on exit apply.
    """
    if can_write_now(ws):
        _frame_and_write(ws, frames)
        return
    if len(frames) == 1:
        await ws.send(frames[0])
        return
    async with ws.send_context():
        _frame_and_write(ws, frames)


def can_write_now(ws: Connection) -> bool:
    """Whether ``send_batch`` would write at once, with nothing to wait for: then
    ``write_batch`` does the same from any step, without awaiting."""
    return _plain(ws.protocol) and not ws.paused and not ws.transport.is_closing()


def write_batch(ws: Connection, frames: list[bytes]) -> None:
    """Queue ``frames`` on the socket now, without waiting (the emulator's agent side, and our
    side's writes from a step that checked ``can_write_now``).

    On a connection that is no longer open the frames are dropped: the core resends them
    after a resume, and asyncio would only log each write to a closing transport.
    """
    if ws.state is not WsState.OPEN or ws.transport.is_closing():
        return
    _frame_and_write(ws, frames)


_FIN_BINARY = 0x82  # FIN bit + opcode 2 (binary): one whole message per frame
_MASK_BIT = 0x80
_HEAD_SHORT = struct.Struct("!BB").pack
_HEAD_16 = struct.Struct("!BBH").pack
_HEAD_64 = struct.Struct("!BBQ").pack


def frame_binary(frames: list[bytes], *, mask: bool) -> bytes:
    """RFC 6455 unfragmented binary frames for ``frames``, concatenated (no extensions).

    A client masks every frame with its own 4 random bytes (RFC 6455 5.3: from a strong
    source of entropy; one ``os.urandom`` call serves the whole batch); a server does not mask.
    """
    parts: list[bytes] = []
    append = parts.append
    mask_bit = _MASK_BIT if mask else 0
    keys = os.urandom(4 * len(frames)) if mask else b""
    for index, frame in enumerate(frames):
        length = len(frame)
        if length < 126:
            append(_HEAD_SHORT(_FIN_BINARY, mask_bit | length))
        elif length < 65536:
            append(_HEAD_16(_FIN_BINARY, mask_bit | 126, length))
        else:
            append(_HEAD_64(_FIN_BINARY, mask_bit | 127, length))
        if mask:
            key = keys[4 * index : 4 * index + 4]
            append(key)
            append(apply_mask(frame, key))
        else:
            append(frame)
    return b"".join(parts)


def _plain(protocol: Protocol) -> bool:
    """Whether frames can be written around ``protocol`` (it would frame them exactly so)."""
    return (
        getattr(protocol, "extensions", None) == []
        and getattr(protocol, "expect_continuation_frame", None) is False
        and getattr(protocol, "debug", None) is False
        and getattr(protocol, "side", None) in (WsSide.CLIENT, WsSide.SERVER)
        and protocol.state is WsState.OPEN
    )


def _frame_and_write(ws: Connection, frames: list[bytes]) -> None:
    protocol = ws.protocol
    transport = ws.transport
    if _plain(protocol):  # anything websockets queued (normally nothing) goes first, in order
        batch = frame_binary(frames, mask=protocol.side is WsSide.CLIENT)
        chunks = [*protocol.data_to_send(), batch]
    else:
        for frame in frames:
            protocol.send_binary(frame)
        chunks = protocol.data_to_send()
    if all(chunks):
        transport.write(b"".join(chunks))
        return
    for chunk in chunks:  # an EOF marker (closing): half-close as websockets itself does
        if chunk:
            transport.write(chunk)
        elif transport.can_write_eof():
            transport.write_eof()
        else:
            transport.close()


def message_buffered(ws: Connection) -> bool:
    """Whether ``ws.recv()`` would return a message without waiting (its last frame is in).

    Only a hint for batching: False whenever the internals look different from what we know.
    """
    queue = getattr(getattr(getattr(ws, "recv_messages", None), "frames", None), "queue", None)
    if not queue:
        return False
    return bool(getattr(queue[-1], "fin", False))


# ---- receiving: whole binary messages parsed in bulk ---------------------------------------------


def _at_frame_boundary(protocol: Protocol) -> bool:
    """Whether websockets' parser has nothing buffered and waits for a new frame's first byte.

    Idle between frames, ``Protocol.parse`` sits in ``reader.at_eof()`` (mid-frame it sits in
    ``Frame.parse``'s ``read_exact``); only then may bytes be taken away from it.
    """
    reader = getattr(protocol, "reader", None)
    if reader is None or getattr(reader, "buffer", True):
        return False
    generator: Any = getattr(protocol, "parser", None)
    while getattr(generator, "gi_yieldfrom", None) is not None:
        generator = generator.gi_yieldfrom
    return getattr(generator, "gi_code", None) is StreamReader.at_eof.__code__


class _Splitter(asyncio.Protocol):
    """Stands between the transport and the connection: takes plain binary frames for itself.

    Every frame the connection would deliver as one whole binary message (FIN, opcode 2, no
    RSV bits, unmasked, within the size limit) while nothing else is queued in websockets is
    cut out of the received bytes and queued here; anything else (pings, pongs, close, text,
    fragments, a frame over the size limit, any frame once the connection is not OPEN or has
    messages of its own queued) is handed to the connection exactly as it came, whole frames
    only, so websockets' parser always resumes at a frame boundary. An incomplete frame at the
    end of a read waits here for the rest (a frame websockets gets is handed on as it arrives).
    """

    def __init__(self, ws: Connection, wake: Any) -> None:
        self.ws = ws
        self.protocol = ws.protocol
        self.assembled = ws.recv_messages.frames.queue
        self.messages: deque[bytes] = deque()
        self.wake = wake
        self.pending: list[bytes] = []  # the start of a frame we have not seen the end of
        self.pending_size = 0
        self.needed = 0  # the bytes that frame needs in all (0: its header is incomplete)
        self.handing_on = 0  # bytes of the current frame still to hand to websockets
        limit = self.protocol.max_message_size
        self.max_size = limit if limit is not None else 1 << 63
        if self.protocol.max_fragment_size is not None:
            self.max_size = min(self.max_size, self.protocol.max_fragment_size)

    def mine(self) -> bool:
        """Whether the next plain binary frame may be taken (websockets holds nothing)."""
        protocol = self.protocol
        return (
            protocol.state is WsState.OPEN
            and protocol.current_size is None
            and not self.assembled
            and not protocol.debug
        )

    def data_received(self, data: bytes) -> None:
        if self.pending:  # joined once the frame is whole, not once per read of a large one
            self.pending.append(data)
            self.pending_size += len(data)
            if self.pending_size < self.needed:
                return
            data = b"".join(self.pending)
            self.pending = []
        needed = 0
        end = len(data)
        pos = 0
        mine = self.mine()
        messages = self.messages
        hand_on = self.ws.data_received
        while pos < end:
            if self.handing_on:  # the rest of a frame websockets is parsing
                take = min(self.handing_on, end - pos)
                self.handing_on -= take
                hand_on(data[pos : pos + take])
                pos += take
                mine = self.mine()
                continue
            if end - pos < 2:
                break
            head = data[pos]
            second = data[pos + 1]
            size = second & 0x7F
            start = pos + 2
            if size >= 126:  # the 16- or 64-bit length form
                start = pos + (4 if size == 126 else 10)
                if end < start:
                    break
                size = int.from_bytes(data[pos + 2 : start])
            masked = second & 0x80  # a server's frame is not; websockets fails one that is
            if masked:
                start += 4
            stop = start + size
            if head == _FIN_BINARY and not masked and mine and size <= self.max_size:
                if stop > end:
                    needed = stop - pos
                    break
                messages.append(data[start:stop])
                pos = stop
                continue
            self.handing_on = stop - pos  # header included: websockets parses the whole frame
        if pos < end:
            self.pending = [data[pos:]]
            self.pending_size = end - pos
            self.needed = needed
        self.wake()

    def eof_received(self) -> None:
        if self.pending:  # an incomplete frame: websockets reports the truncation
            pending, self.pending = b"".join(self.pending), []
            self.ws.data_received(pending)
        self.ws.eof_received()  # None: the transport closes, as it would for websockets
        self.wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.ws.connection_lost(exc)
        self.wake()

    def pause_writing(self) -> None:
        self.ws.pause_writing()

    def resume_writing(self) -> None:
        self.ws.resume_writing()


class BatchReceiver:
    """The messages a client connection receives, several at a time, in order.

    websockets parses every frame with a generator, builds a ``Frame``, queues it in an
    ``Assembler`` and hands it to ``recv()`` one await at a time; at ~1000 SSM messages/s that
    was the largest single cost of a channel's read side. Once the connection is OPEN, plain,
    and websockets' parser is between frames, a ``_Splitter`` takes the transport's bytes and
    cuts the plain binary frames out itself; everything else still goes through websockets
    (pings are answered and pongs seen by it, a close frame closes the connection as before).
    When the connection is not plain (compression, a server's side, debug logging) or the
    internals look different, this is ``recv()`` plus ``message_buffered``.
    """

    def __init__(self, ws: Connection) -> None:
        self._ws = ws
        self._waiter: asyncio.Future[None] | None = None
        self._splitter: _Splitter | None = None
        assembler = getattr(ws, "recv_messages", None)  # pause reading at its marks too
        self._high: int | None = getattr(assembler, "high", None)
        self._low: int = getattr(assembler, "low", None) or 0
        self._paused = False  # by us, for our own high-water mark
        self._hold: asyncio.TimerHandle | None = None  # reading held until it fires
        self._try_install()

    @property
    def fast(self) -> bool:
        """Whether plain binary frames are being cut out of the stream here."""
        return self._splitter is not None

    def _try_install(self) -> None:
        ws = self._ws
        protocol = getattr(ws, "protocol", None)
        transport = getattr(ws, "transport", None)
        if (
            protocol is None
            or transport is None
            or getattr(protocol, "side", None) is not WsSide.CLIENT
            or getattr(protocol, "extensions", None) != []
            or getattr(protocol, "debug", True)
            or protocol.state is not WsState.OPEN
            or transport.is_closing()
            or transport.get_protocol() is not ws
            or not _at_frame_boundary(protocol)
        ):
            return
        queue = getattr(getattr(getattr(ws, "recv_messages", None), "frames", None), "queue", None)
        if not isinstance(queue, deque):
            return
        splitter = _Splitter(ws, self._wake)
        transport.set_protocol(splitter)
        self._splitter = splitter

    @property
    def waiting(self) -> int:
        """Messages already cut out and waiting for the next ``receive``."""
        return 0 if self._splitter is None else len(self._splitter.messages)

    @property
    def holding(self) -> bool:
        return self._hold is not None

    def hold(self, seconds: float) -> bool:
        """Stop reading the socket for ``seconds`` so the kernel gathers what comes meanwhile
        for one read (``readhold``); ``receive`` waits for the hold's end. Returns whether a
        hold was armed: not when reading the websockets way, already held, or closing.

        Over TLS asyncio's SSL transport keeps reading the socket while paused (up to its
        buffer limit) and only stops handing us the bytes: the reads after a hold are still
        fewer, the socket's wake-ups are not.
        """
        transport = self._ws.transport
        if self._splitter is None or self._hold is not None or transport.is_closing():
            return False
        if not self._paused:
            transport.pause_reading()
        self._hold = asyncio.get_running_loop().call_later(seconds, self._release)
        return True

    def _release(self) -> None:
        """The hold's end: read again (unless our high-water mark still pauses us). No wake:
        ``receive`` goes on once the gathered bytes are read, the next loop iteration."""
        self._hold = None
        transport = self._ws.transport
        if not self._paused and not transport.is_closing():
            transport.resume_reading()
        if self.waiting:
            self._wake()

    def _end_hold(self) -> None:
        handle, self._hold = self._hold, None
        if handle is not None:
            handle.cancel()

    def _wake(self) -> None:
        splitter = self._splitter
        high = self._high
        if (
            splitter is not None
            and high is not None
            and len(splitter.messages) > high
            and not self._paused
        ):
            self._paused = True
            self._ws.transport.pause_reading()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self, limit: int) -> list[bytes | str]:
        """One or more messages (at most ``limit``), waiting for the first; as ``recv()``,
        raises ``ConnectionClosed`` once the connection has ended and nothing is left."""
        splitter = self._splitter
        if splitter is None:
            return await self._receive_websockets(limit)
        messages = splitter.messages
        while not messages or self._hold is not None:
            if self._ws.transport.is_closing():  # dropped or closing: no hold waits for it
                self._end_hold()
                if messages:
                    break
            if not messages and (
                splitter.assembled or not splitter.mine() or self._ws.transport.is_closing()
            ):
                return await self._receive_websockets(limit)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if len(messages) <= limit:
            batch: list[bytes | str] = list(messages)
            messages.clear()
        else:
            batch = [messages.popleft() for _ in range(limit)]
        if self._paused and len(messages) <= self._low:
            self._paused = False
            if self._hold is None and not getattr(self._ws.recv_messages, "paused", False):
                self._ws.transport.resume_reading()
        return batch

    async def _receive_websockets(self, limit: int) -> list[bytes | str]:
        ws = self._ws
        batch: list[bytes | str] = [await ws.recv()]
        while len(batch) < limit and message_buffered(ws):
            batch.append(await ws.recv())
        return batch


_receivers: weakref.WeakKeyDictionary[Connection, BatchReceiver] = weakref.WeakKeyDictionary()


def receiver_for(ws: Connection) -> BatchReceiver:
    """The one ``BatchReceiver`` of ``ws``: once it has taken over the bytes, ``ws.recv()`` no
    longer sees binary messages, so every reader of the connection (the read loop, then the
    close's discarding reader) must go through the same one."""
    receiver = _receivers.get(ws)
    if receiver is None:
        receiver = _receivers[ws] = BatchReceiver(ws)
    return receiver
