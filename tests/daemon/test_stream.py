"""The raw stream upgrade: binary frames carry bytes, empty binary is EOF, close 4000 = error."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from websockets.asyncio.client import unix_connect
from websockets.exceptions import ConnectionClosed

from bridge.daemon.client import DaemonClient, RpcError
from bridge.daemon.server import Connection, DaemonServer
from bridge.daemon.stream import StreamClosed
from bridge.paths import DaemonPaths


async def test_one_mebibyte_echo_is_byte_identical(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    payload = os.urandom(1024 * 1024 + 7)
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        stream = await c.open_stream("test.echo_stream")

        async def send() -> None:
            for start in range(0, len(payload), 50_000):  # odd sizes: chunking is the stream's job
                await stream.write(payload[start : start + 50_000])
            await stream.write_eof()

        sender = asyncio.create_task(send())
        received = bytearray()
        while chunk := await asyncio.wait_for(stream.read(), 10):
            received += chunk
        await sender
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert stream.error is None


async def test_read_with_a_limit_splits_chunks(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        stream = await c.open_stream("test.echo_stream")
        await stream.write(b"abcdef")
        await stream.write_eof()
        parts = [await stream.read(4), await stream.read(4), await stream.read(4)]
    assert parts == [b"abcd", b"ef", b""]


async def test_stream_error_kind_reaches_the_client(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        stream = await c.open_stream("test.stream_error")
        assert await stream.read() == b"partial"
        assert await asyncio.wait_for(stream.read(), 5) == b""
        assert stream.error == "channel_closed"
        with pytest.raises(StreamClosed):
            await stream.write(b"late")


async def test_failed_upgrade_leaves_a_plain_rpc_connection(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        with pytest.raises(RpcError) as err:
            await c.open_stream("test.stream_then_fail")
        assert err.value.kind == "target_unreachable"
        assert await c.call("test.echo", {"text": "rpc"}) == {"text": "rpc"}
        stream = await c.open_stream("test.echo_stream")  # and it can still upgrade later
        await stream.write(b"ok")
        assert await stream.read() == b"ok"


async def test_binary_before_upgrade_closes_the_connection(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    async with unix_connect(str(daemon_paths.socket), uri="ws://localhost/") as ws:
        await ws.send(b"not a stream yet")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1003


async def test_client_close_ends_the_daemon_side(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    c = await DaemonClient.open(autostart=False, paths=daemon_paths)
    stream = await c.open_stream("test.echo_stream")
    await stream.write(b"x")
    assert await stream.read() == b"x"
    await c.close()
    for _ in range(100):
        if not served.connections:
            break
        await asyncio.sleep(0.02)
    assert not served.connections


async def test_daemon_going_away_is_not_a_clean_end(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        stream = await c.open_stream("test.echo_stream")
        await served.close()
        assert await asyncio.wait_for(stream.read(), 5) == b""
        assert stream.error == "connection_lost"


async def test_close_is_prompt_while_the_inbox_is_full(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    c = await DaemonClient.open(autostart=False, paths=daemon_paths)
    stream = await c.open_stream("test.echo_stream")
    writer = asyncio.create_task(stream.write(bytes(16 * 1024 * 1024)))  # nobody reads the echo
    await asyncio.sleep(0.3)
    assert not writer.done()  # back-pressure reached the writer
    await asyncio.wait_for(c.close(), 3)
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)


async def test_bytes_right_after_the_response_are_kept(
    served: DaemonServer, daemon_paths: DaemonPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client may answer the upgrade response with data before the daemon resumes."""
    original = Connection._send

    async def send_then_stall(self: Connection, text: str) -> None:
        await original(self, text)
        await asyncio.sleep(0.3)

    monkeypatch.setattr(Connection, "_send", send_then_stall)
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        stream = await c.open_stream("test.echo_stream")
        await stream.write(b"early bytes")
        assert await asyncio.wait_for(stream.read(), 5) == b"early bytes"
