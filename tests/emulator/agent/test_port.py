"""Port sessions: sshd-style stdio forwarding, basic LocalPortForwarding, smux."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable

from bridge.emulator.agent import Address, SessionBroker, SessionTarget
from bridge.ssm.codec import Flag
from bridge.ssm.smux import SmuxSession

from .agent_helpers import TestClient

MiB = 1 << 20


def _target(address: Address, **properties: str) -> SessionTarget:
    return SessionTarget(
        properties={"portNumber": "22", **properties}, resolve=lambda host, port: address
    )


async def _echo_roundtrip(client: TestClient, size: int) -> None:
    payload = os.urandom(size)
    await client.send(payload)
    await client.wait_for_data(lambda d: len(d) >= size, timeout=30)
    assert hashlib.sha256(client.data).hexdigest() == hashlib.sha256(payload).hexdigest()


async def test_stdio_to_tcp_echo(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    grant = broker.create_session(_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    await _echo_roundtrip(client, MiB)


async def test_stdio_to_unix_echo(
    broker: SessionBroker, unix_echo: str, clients: Callable[..., TestClient]
) -> None:
    grant = broker.create_session(_target(unix_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    await _echo_roundtrip(client, MiB)


async def test_target_eof_ends_session(
    broker: SessionBroker, clients: Callable[..., TestClient]
) -> None:
    async def say_bye(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-Go\r\nbye")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(say_bye, "127.0.0.1", 0)
    try:
        grant = broker.create_session(_target(server.sockets[0].getsockname()[:2]))
        client = clients(grant.stream_url)
        await client.connect(grant.token_value)
        async with asyncio.timeout(5):
            await client.closed.wait()
        assert client.data == b"SSH-2.0-Go\r\nbye"  # everything before channel_closed
        async with asyncio.timeout(5):
            await broker.sessions[grant.session_id].wait_ended()
    finally:
        server.close()


async def test_refused_target_ends_session(
    broker: SessionBroker, clients: Callable[..., TestClient]
) -> None:
    def refuse(host: str, port: int) -> Address:
        raise ConnectionRefusedError(f"nothing on {port}")

    grant = broker.create_session(SessionTarget(resolve=refuse))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    async with asyncio.timeout(5):
        await client.closed.wait()
    assert client.close_reason and "Unable to connect" in client.close_reason


async def test_disconnect_to_port_redials_in_basic_mode(
    broker: SessionBroker, clients: Callable[..., TestClient]
) -> None:
    connections = 0

    async def echo_counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while data := await reader.read(65536):
            writer.write(data)
        writer.close()

    server = await asyncio.start_server(echo_counting, "127.0.0.1", 0)
    try:
        address = server.sockets[0].getsockname()[:2]
        grant = broker.create_session(_target(address, type="LocalPortForwarding"))
        client = clients(grant.stream_url, version="1.1.0.0")  # too old for smux
        await client.connect(grant.token_value)
        await client.send(b"one")
        await client.wait_for_data(lambda d: d == b"one")
        client.send_flag(Flag.DISCONNECT_TO_PORT)
        await client.wait_acked()
        await client.send(b"two")
        await client.wait_for_data(lambda d: d == b"onetwo")
        assert connections == 2
        assert not client.closed.is_set()
    finally:
        server.close()


async def test_terminate_session_flag(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    grant = broker.create_session(_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    async with asyncio.timeout(5):
        await client.ready.wait()
    client.send_flag(Flag.TERMINATE_SESSION)
    async with asyncio.timeout(5):
        await client.closed.wait()


async def _smux_over(client: TestClient) -> SmuxSession:
    inbox: asyncio.Queue[bytes] = asyncio.Queue()
    client.on_data = inbox.put_nowait

    async def recv() -> bytes:
        return await inbox.get()

    return SmuxSession(recv, client.send, client=True)


async def test_smux_streams_and_connect_to_port_error(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    def resolve(host: str, port: int) -> Address:
        if host == "db.internal":
            return tcp_echo
        raise ConnectionRefusedError(host)

    target = SessionTarget(
        properties={"portNumber": "5432", "host": "db.internal", "type": "LocalPortForwarding"},
        resolve=resolve,
    )
    grant = broker.create_session(target)
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    session = await _smux_over(client)
    try:
        streams = [await session.open_stream() for _ in range(3)]
        payloads = [os.urandom(200_000) for _ in streams]
        for (_, writer), payload in zip(streams, payloads, strict=True):
            writer.write(payload)
        for (reader, _), payload in zip(streams, payloads, strict=True):
            async with asyncio.timeout(20):
                assert await reader.readexactly(len(payload)) == payload
        assert broker.sessions[grant.session_id].core.stats.bytes_received >= 600_000
    finally:
        await session.close()


async def test_smux_refused_dial_sends_connect_to_port_error(
    broker: SessionBroker, clients: Callable[..., TestClient]
) -> None:
    def refuse(host: str, port: int) -> Address:
        raise ConnectionRefusedError(f"{host}:{port}")

    target = SessionTarget(
        properties={"portNumber": "9", "type": "LocalPortForwarding"}, resolve=refuse
    )
    grant = broker.create_session(target)
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    session = await _smux_over(client)
    try:
        reader, _ = await session.open_stream()
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # FIN
            while Flag.CONNECT_TO_PORT_ERROR not in client.flags:
                await asyncio.sleep(0.01)
    finally:
        await session.close()
