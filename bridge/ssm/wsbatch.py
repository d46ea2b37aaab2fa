"""Batched websocket writes (many binary messages, one socket write) and batched reads.

``Connection.send`` costs a send context (state check, write, drain) and a syscall per message;
at ~1000 SSM messages/s each way that was most of a channel's CPU. Here a batch is framed by
``frame_binary`` (RFC 6455 headers, a fresh mask per frame on the client side, the mask applied
by websockets' C ``apply_mask``) and handed to the transport as one buffer; that skips
websockets' per-frame ``Frame`` object, ``check`` and ``BytesIO`` serialization, which were the
largest single cost per message. When the connection is not a plain one (an extension such as
compression negotiated, a fragmented message in progress, debug logging on, or internals that
look different), each frame goes through ``protocol.send_binary`` as before. On the read side,
``message_buffered`` tells a reader that ``recv()`` has a whole message waiting, so it can take
every frame one socket read brought before acting on them once. This is the only module that touches those websockets internals; ``pyproject.toml`` pins the websockets range they were checked against and
``tests/ssm/test_wsbatch.py`` fails with a clear message if they change.
"""

from __future__ import annotations

import os
import struct

from websockets.asyncio.connection import Connection
from websockets.asyncio.messages import Assembler, SimpleQueue
from websockets.protocol import Protocol
from websockets.protocol import Side as WsSide
from websockets.protocol import State as WsState

try:  # the C version websockets ships for most platforms
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a pure-Python build of websockets
    from websockets.utils import apply_mask

__all__ = ["check_internals", "frame_binary", "message_buffered", "send_batch", "write_batch"]

# The methods we use of websockets beyond its public API, by owner (plus the ``protocol``,
# ``transport`` and ``recv_messages.frames.queue`` attributes of a connection, checked on a live
# one by the test).
INTERNALS: dict[type, tuple[str, ...]] = {
    Connection: ("send_context",),
    Protocol: ("send_binary", "data_to_send"),
    Assembler: ("get",),
    SimpleQueue: ("get", "put"),
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

    Inside websockets' own send context, so its state checks (raising ConnectionClosed) and
    write-buffer drain on exit still apply.
    """
    if len(frames) == 1:
        await ws.send(frames[0])
        return
    async with ws.send_context():
        _frame_and_write(ws, frames)


def write_batch(ws: Connection, frames: list[bytes]) -> None:
    """Queue ``frames`` on the socket now, without waiting (the emulator's agent side).

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
