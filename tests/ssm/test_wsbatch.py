"""The websockets internals behind batched writes and reads are still there and still work.

``bridge/ssm/wsbatch.py`` reaches past websockets' public API; a websockets upgrade that moves
those internals must fail here, by name, not as a hang or a garbled stream in the channel tests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.streams import StreamReader

from bridge.ssm.wsbatch import (
    BatchReceiver,
    check_internals,
    frame_binary,
    message_buffered,
    receiver_for,
    send_batch,
    write_batch,
)
from bridge.testing.tls import tls_contexts

# Every header form of RFC 6455 5.2: 7-bit lengths up to 125, 16-bit from 126 to 65535,
# 64-bit from 65536.
_SIZES = (0, 1, 125, 126, 127, 1024, 65535, 65536, 70001)

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
            for attr in ("protocol", "transport", "paused"):
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


def _parse_all(data: bytes, *, mask: bool) -> list[Frame]:
    """Frames websockets' own parser reads from ``data`` (``mask``: it expects masked frames)."""
    reader = StreamReader()
    reader.feed_data(data)
    frames: list[Frame] = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=mask)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
        else:  # pragma: no cover - the parser wanted bytes we do not have
            raise AssertionError("truncated frame")
    return frames


def _payloads() -> list[bytes]:
    return [bytes((n + i) % 256 for i in range(n)) for n in _SIZES]


def test_server_frames_equal_websockets_own_serialization() -> None:
    payloads = _payloads()
    expected = b"".join(Frame(Opcode.BINARY, p).serialize(mask=False) for p in payloads)
    assert frame_binary(payloads, mask=False) == expected


def test_client_frames_parse_with_websockets_parser_and_fresh_masks() -> None:
    payloads = _payloads()
    data = frame_binary(payloads, mask=True)
    frames = _parse_all(data, mask=True)
    assert [(f.opcode, f.fin, f.rsv1, f.data) for f in frames] == [
        (Opcode.BINARY, True, False, p) for p in payloads
    ]
    masks: list[bytes] = []
    offset = 0
    for payload in payloads:  # each header is 2, 4 or 10 bytes, then the 4-byte mask
        head = 2 if len(payload) < 126 else 4 if len(payload) < 65536 else 10
        masks.append(data[offset + head : offset + head + 4])
        offset += head + 4 + len(payload)
    assert offset == len(data)
    assert len(set(masks)) == len(masks)  # not one key reused across the batch


async def _roundtrip(payloads: list[bytes], *, compression: str | None) -> list[bytes]:
    """What a real websockets server and client receive from our batches in both directions."""
    received: list[bytes] = []
    echoed: list[bytes] = []

    async def handler(ws: ServerConnection) -> None:
        for _ in payloads:
            message = await ws.recv()
            assert isinstance(message, bytes)
            received.append(message)
        write_batch(ws, received)  # the server side: unmasked frames
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=compression) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=compression) as ws:
            await send_batch(ws, payloads)
            async with asyncio.timeout(5):
                for _ in payloads:
                    message = await ws.recv()
                    assert isinstance(message, bytes)
                    echoed.append(message)
    assert received == payloads
    return echoed


async def test_real_peer_reads_our_frames_byte_exactly() -> None:
    payloads = _payloads()
    assert await _roundtrip(payloads, compression=None) == payloads


async def test_compressed_connection_falls_back_to_websockets_framing() -> None:
    payloads = _payloads()
    assert await _roundtrip(payloads, compression="deflate") == payloads


# ---- receiving: BatchReceiver cuts plain binary frames out of the stream ---------------------


def _server_frame(opcode: Opcode, payload: bytes, *, fin: bool = True) -> bytes:
    return Frame(opcode, payload, fin=fin).serialize(mask=False)


async def _idle(ws: ServerConnection) -> None:
    await ws.wait_closed()


async def _drain(receiver: BatchReceiver, count: int) -> list[bytes | str]:
    got: list[bytes | str] = []
    async with asyncio.timeout(5):
        while len(got) < count:
            got.extend(await receiver.receive(64))
    return got


async def _drain_until_closed(ws: ClientConnection, count: int) -> list[bytes | str]:
    """``count`` messages through the fast path, then the peer's clean close."""
    receiver = receiver_for(ws)
    assert receiver.fast
    got = await _drain(receiver, count)
    with pytest.raises(ConnectionClosedOK):
        async with asyncio.timeout(5):
            await receiver.receive(64)
    return got


async def test_plain_connection_takes_the_fast_path() -> None:
    async with serve(_idle, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            assert receiver_for(ws).fast, _HINT.format(
                version=websockets.__version__,
                missing="Protocol.parser idle in StreamReader.at_eof between frames",
            )
            assert receiver_for(ws) is receiver_for(ws)


async def test_split_reads_at_every_boundary_are_byte_exact() -> None:
    """Each copy of a stream of binary, ping, text and fragmented frames, split at another byte:
    the same messages, in order; websockets still sees (and answers) the ping."""
    binaries = [bytes((n + i) % 256 for i in range(n)) for n in (0, 1, 125, 126, 127, 1140)]
    stream = b"".join(
        [
            *(_server_frame(Opcode.BINARY, p) for p in binaries[:3]),
            _server_frame(Opcode.PING, b"are you there"),
            _server_frame(Opcode.BINARY, binaries[3]),
            _server_frame(Opcode.TEXT, "tëxt".encode()),
            _server_frame(Opcode.BINARY, binaries[4]),
            _server_frame(Opcode.BINARY, b"frag", fin=False),
            _server_frame(Opcode.CONT, b"mented"),
            _server_frame(Opcode.BINARY, binaries[5]),
        ]
    )
    expected: list[bytes | str] = [*binaries[:4], "tëxt", binaries[4], b"fragmented", binaries[5]]
    async with serve(_idle, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            receiver = receiver_for(ws)
            assert receiver.fast
            for cut in range(len(stream) + 1):
                protocol = ws.transport.get_protocol()
                assert isinstance(protocol, asyncio.Protocol)
                for part in (stream[:cut], stream[cut:]):
                    if part:
                        protocol.data_received(part)
                assert await _drain(receiver, len(expected)) == expected, f"cut at {cut}"
            assert receiver.fast  # every copy ended at a frame boundary: still cutting
            assert ws.protocol.state is State.OPEN


async def test_large_frames_in_every_length_form() -> None:
    payloads = _payloads()  # 0 .. 70001 bytes: the 7-, 16- and 64-bit length forms
    stream = frame_binary(payloads, mask=False)
    async with serve(_idle, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            receiver = receiver_for(ws)
            protocol = ws.transport.get_protocol()
            assert isinstance(protocol, asyncio.Protocol)
            for step in (1, 3, 1000, 65536, len(stream)):  # reads of these sizes
                for offset in range(0, len(stream), step):
                    protocol.data_received(stream[offset : offset + step])
                assert await _drain(receiver, len(payloads)) == payloads, f"reads of {step}"


async def test_real_peer_pings_interleaved_with_messages_are_answered() -> None:
    payloads = [bytes([i]) * 1140 for i in range(200)]
    pongs: list[float] = []

    async def handler(ws: ServerConnection) -> None:
        for start in range(0, len(payloads), 20):
            write_batch(ws, payloads[start : start + 20])
            pongs.append(await asyncio.wait_for(await ws.ping(), 5))
        await ws.close()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            got = await _drain_until_closed(ws, len(payloads))
    assert got == payloads
    assert len(pongs) == 10
    assert ws.close_code == 1000


async def test_messages_before_the_peers_close_are_all_delivered() -> None:
    payloads = [bytes([i % 256]) * 1140 for i in range(300)]  # over the queue's high mark

    async def handler(ws: ServerConnection) -> None:
        write_batch(ws, payloads)
        await ws.close(4000, "done")

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            receiver = receiver_for(ws)
            await asyncio.sleep(0.1)  # let it all arrive: reading pauses past the high mark
            got: list[bytes | str] = []
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(5):
                    while True:
                        got.extend(await receiver.receive(64))
    assert got == payloads
    assert (ws.close_code, ws.close_reason) == (4000, "done")


async def test_a_truncated_frame_at_eof_fails_as_websockets_does() -> None:
    async def handler(ws: ServerConnection) -> None:
        ws.transport.write(_server_frame(Opcode.BINARY, b"whole"))
        ws.transport.write(_server_frame(Opcode.BINARY, b"x" * 500)[:300])
        ws.transport.write_eof()
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            receiver = receiver_for(ws)
            assert await _drain(receiver, 1) == [b"whole"]
            with pytest.raises(ConnectionClosedError):
                async with asyncio.timeout(5):
                    await receiver.receive(64)
    assert ws.close_code == 1006


async def test_compressed_connection_receives_through_websockets() -> None:
    payloads = [bytes([i]) * 1140 for i in range(50)]

    async def handler(ws: ServerConnection) -> None:
        for payload in payloads:
            await ws.send(payload)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression="deflate") as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression="deflate") as ws:
            receiver = receiver_for(ws)
            assert not receiver.fast
            assert await _drain(receiver, len(payloads)) == payloads


async def test_tls_connection_takes_the_fast_path_byte_exactly(tmp_path: Path) -> None:
    payloads = [bytes([i % 256]) * (1100 + i) for i in range(300)]
    server_tls, client_tls = tls_contexts(tmp_path)

    async def handler(ws: ServerConnection) -> None:
        for start in range(0, len(payloads), 50):
            write_batch(ws, payloads[start : start + 50])
            await asyncio.wait_for(await ws.ping(), 5)
        await ws.close()

    async with serve(handler, "localhost", 0, ssl=server_tls, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"wss://localhost:{port}"
        async with connect(url, ssl=client_tls, compression=None) as ws:
            got = await _drain_until_closed(ws, len(payloads))
    assert got == payloads


# ---- the read hold (bridge/ssm/readhold.py): reading paused, then one read for what came ----


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
async def test_a_hold_gathers_what_came_meanwhile_into_one_batch(tmp_path: Path, tls: bool) -> None:
    """Twenty messages written one by one while reading is held arrive as one batch (over
    TLS too, where asyncio's SSL transport keeps reading the socket and only stops handing
    the bytes on), byte-exact and in order."""
    server_tls, client_tls = tls_contexts(tmp_path) if tls else (None, None)
    peer: asyncio.Future[ServerConnection] = asyncio.get_running_loop().create_future()

    async def handler(ws: ServerConnection) -> None:
        peer.set_result(ws)
        await ws.wait_closed()

    payloads = [bytes([i]) * (1000 + i) for i in range(20)]
    async with serve(handler, "localhost", 0, ssl=server_tls, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"{'wss' if tls else 'ws'}://localhost:{port}"
        async with connect(url, ssl=client_tls, compression=None) as ws:
            receiver = receiver_for(ws)
            server_ws = await peer
            assert receiver.fast
            assert receiver.hold(0.1)
            assert not receiver.hold(0.1)  # one hold at a time
            for payload in payloads:  # each its own socket write, as the agent sends them
                write_batch(server_ws, [payload])
            async with asyncio.timeout(5):
                batch = await receiver.receive(64)
            assert batch == payloads
            assert not receiver.holding
            write_batch(server_ws, [b"after"])  # reading resumed: no hold, no wait
            async with asyncio.timeout(5):
                assert await receiver.receive(64) == [b"after"]


async def test_a_connection_dropped_during_a_hold_ends_the_wait() -> None:
    """A long hold does not wedge the reader of a connection that is aborted meanwhile."""
    async with serve(_idle, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            receiver = receiver_for(ws)
            assert receiver.hold(600)
            reading = asyncio.create_task(receiver.receive(64))
            await asyncio.sleep(0)  # the reader waits on the hold
            assert not reading.done()
            ws.transport.abort()
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(5):
                    await reading
            assert not receiver.holding
