"""The websockets internals behind batched writes are still there and still work.

``bridge/ssm/wsbatch.py`` reaches past websockets' public API; a websockets upgrade that moves
those internals must fail here, by name, not as a hang or a garbled stream in the channel tests.
"""

from __future__ import annotations

import asyncio

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from bridge.ssm.wsbatch import check_internals, message_buffered, send_batch, write_batch

_HINT = (
    "websockets {version} changed internals that bridge/ssm/wsbatch.py relies on: {missing}. "
    "Adapt wsbatch.py (or pin websockets below this version in pyproject.toml)."
)


def test_internals_present() -> None:
    missing = check_internals()
    assert not missing, _HINT.format(version=websockets.__version__, missing=", ".join(missing))


async def test_batches_arrive_as_separate_messages_in_order() -> None:
    received: list[bytes] = []
    done = asyncio.Event()
    frames = [bytes([i]) * (i * 37 + 1) for i in range(20)]

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            assert isinstance(message, bytes)
            received.append(message)
            if len(received) == 2 * len(frames) + 1:
                done.set()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            for attr in ("protocol", "transport"):
                assert hasattr(ws, attr), _HINT.format(
                    version=websockets.__version__, missing=f"Connection.{attr}"
                )
            await send_batch(ws, frames)
            write_batch(ws, frames)
            await send_batch(ws, [b"last"])
            async with asyncio.timeout(5):
                await done.wait()
    assert received == [*frames, *frames, b"last"]


async def test_write_batch_after_close_drops_quietly() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}") as ws:
            pass
        write_batch(ws, [b"late"])  # no exception, nothing written


async def test_message_buffered_sees_what_one_read_brought() -> None:
    async def handler(ws: ServerConnection) -> None:
        await send_batch(ws, [b"a", b"b", b"c"])
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            assert await ws.recv() == b"a"  # one socket write: the other two are in already
            assert message_buffered(ws), _HINT.format(
                version=websockets.__version__, missing="Connection.recv_messages.frames.queue"
            )
            assert await ws.recv() == b"b"
            assert message_buffered(ws)
            assert await ws.recv() == b"c"
            assert not message_buffered(ws)
