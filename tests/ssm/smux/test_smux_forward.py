"""serve_smux (the agent side) and forward_listener (the client side) with real TCP all the way."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import AsyncIterator

import pytest

from bridge.ssm.smux import SmuxSession, forward_listener, serve_smux

from .smux_helpers import Pair, TcpPair


class Target:
    """A TCP service inside the "space": echoes, and records what each connection saw."""

    def __init__(self) -> None:
        self.eofs = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            self.eofs += 1
        except ConnectionError:  # the agent closes us outright, as port_mux.go does
            pass
        finally:
            writer.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tunnel:
    def __init__(self, client: SmuxSession, agent: asyncio.Task[None], dial_port: int) -> None:
        self.client = client
        self.agent = agent
        self.dial_port = dial_port  # tests point it at a closed port to make dials fail
        self.dial_errors = 0


@pytest.fixture
async def tunnel(tcp_pair: TcpPair) -> AsyncIterator[tuple[Tunnel, Target]]:
    target = Target()
    port = await target.start()
    (cr, cw), (sr, sw) = await tcp_pair()

    async def dial() -> Pair:
        return await asyncio.open_connection("127.0.0.1", tun.dial_port)

    async def on_dial_error() -> None:
        tun.dial_errors += 1

    agent = asyncio.create_task(serve_smux(sr, sw, dial, on_dial_error))
    tun = Tunnel(SmuxSession.over_streams(cr, cw, client=True), agent, port)
    yield tun, target
    await tun.client.close()
    # The agent side ends when its session does (or was cancelled by the test).
    await asyncio.wait_for(asyncio.gather(agent, return_exceptions=True), 5)
    assert target.server is not None
    target.server.close()


async def echo_through(local_port: int, payload: bytes) -> bytes:
    """Send, read the echo, then close. Half-closing first would lose the echo: the agent
    closes the target outright when the stream ends (port_mux.go), and serve_smux does too."""
    reader, writer = await asyncio.open_connection("127.0.0.1", local_port)

    async def send() -> None:
        for i in range(0, len(payload), 100_000):
            writer.write(payload[i : i + 100_000])
            await writer.drain()

    _, got = await asyncio.gather(send(), reader.readexactly(len(payload)))
    writer.write_eof()  # local EOF becomes an smux FIN; the FIN back ends the connection
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    return got


async def test_forward_listener_echoes_through_serve_smux(
    tunnel: tuple[Tunnel, Target],
) -> None:
    t, target = tunnel
    listener = await forward_listener(t.client, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    payloads = [os.urandom(n) for n in (1, 100_000, 2 * 1024 * 1024)]
    results = await asyncio.gather(*(echo_through(port, p) for p in payloads))
    for sent, got in zip(payloads, results, strict=True):
        assert hashlib.sha256(got).digest() == hashlib.sha256(sent).digest()
    assert target.eofs == 3  # each local FIN reached the target as EOF
    assert t.dial_errors == 0
    listener.close()
    await listener.wait_closed()


async def test_target_close_reaches_local_connection(tunnel: tuple[Tunnel, Target]) -> None:
    t, target = tunnel
    assert target.server is not None
    listener = await forward_listener(t.client, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", listener.sockets[0].getsockname()[1]
    )
    writer.write(b"hello")
    assert await asyncio.wait_for(reader.readexactly(5), 2) == b"hello"
    # Closing the local side FINs the stream; the agent closes the target and FINs back.
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    listener.close()
    await listener.wait_closed()


async def test_dial_failure_reports_and_fins_the_stream(tunnel: tuple[Tunnel, Target]) -> None:
    t, _ = tunnel
    t.dial_port = closed_port()
    reader, writer = await t.client.open_stream()
    writer.write(b"anyone there?")
    assert await asyncio.wait_for(reader.read(), 2) == b""  # FIN from the agent side
    assert t.dial_errors == 1
    writer.close()

    listener = await forward_listener(t.client, "127.0.0.1", 0)
    l_reader, l_writer = await asyncio.open_connection(
        "127.0.0.1", listener.sockets[0].getsockname()[1]
    )
    assert await asyncio.wait_for(l_reader.read(), 2) == b""  # the local client sees EOF
    assert t.dial_errors == 2
    l_writer.close()
    listener.close()
    await listener.wait_closed()


async def test_session_end_closes_local_connections(tunnel: tuple[Tunnel, Target]) -> None:
    t, _ = tunnel
    listener = await forward_listener(t.client, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", listener.sockets[0].getsockname()[1]
    )
    writer.write(b"x")
    assert await asyncio.wait_for(reader.readexactly(1), 2) == b"x"
    t.agent.cancel()  # the agent side goes away
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    # New local connections are refused politely once the session is gone.
    await asyncio.wait_for(t.client.wait_closed(), 2)
    r2, w2 = await asyncio.open_connection("127.0.0.1", listener.sockets[0].getsockname()[1])
    assert await asyncio.wait_for(r2.read(), 2) == b""
    w2.close()
    listener.close()
    await listener.wait_closed()
