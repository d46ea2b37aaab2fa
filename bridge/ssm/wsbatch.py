"""Batched websocket writes (many binary messages, one socket write) and batched reads.

``Connection.send`` costs a send context (state check, write, drain) and a syscall per message;
at ~1000 SSM messages/s each way that was most of a channel's CPU. Here the batch is framed by
the websockets protocol object (``protocol.send_binary``), drained once (``data_to_send``) and
handed to the transport as one buffer. On the read side, ``message_buffered`` tells a reader
that ``recv()`` has a whole message waiting, so it can take every frame one socket read brought
before acting on them once. This is the only module that touches those websockets internals; ``pyproject.toml`` pins the websockets range they were checked against and
``tests/ssm/test_wsbatch.py`` fails with a clear message if they change.
"""

from __future__ import annotations

from websockets.asyncio.connection import Connection
from websockets.asyncio.messages import Assembler, SimpleQueue
from websockets.protocol import Protocol
from websockets.protocol import State as WsState

__all__ = ["check_internals", "message_buffered", "send_batch", "write_batch"]

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


def _frame_and_write(ws: Connection, frames: list[bytes]) -> None:
    protocol = ws.protocol
    for frame in frames:
        protocol.send_binary(frame)
    chunks = protocol.data_to_send()
    transport = ws.transport
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
