"""Local port forwarding through real local TCP sockets, in the mode the agent picks."""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from bridge.ssm.codec import Flag
from bridge.ssm.port import PortMode, forward_port, port_mode

from .channel_helpers import EchoTarget, Harness

LPF = {"type": "LocalPortForwarding", "portNumber": "8888", "localPortNumber": "0"}


async def _connect(server: asyncio.Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = server.sockets[0].getsockname()[:2]
    return await asyncio.open_connection(host, port)


async def _echo_round(server: asyncio.Server, payload: bytes) -> None:
    reader, writer = await _connect(server)
    try:
        writer.write(payload)
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(len(payload)), 20) == payload
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_mux_forwarding_serves_concurrent_connections(harness: Harness) -> None:
    target = EchoTarget()
    await harness.space.listen(8888, target.handle)
    channel, _grant = await harness.open(LPF)
    server = await forward_port(channel, "127.0.0.1", 0)
    ready = channel.ready_info
    assert ready is not None
    assert port_mode(ready.properties, channel.agent_version) is PortMode.MUX
    payloads = [os.urandom(200_000) for _ in range(4)]
    await asyncio.gather(*(_echo_round(server, p) for p in payloads))
    assert target.connections == 4
    await channel.close()
    await asyncio.wait_for(server.wait_closed(), 5)  # the listener goes with the channel


async def test_mux_connect_to_port_error(harness: Harness) -> None:
    """Nothing listens on the remote port: the agent flags it and FINs that stream only."""
    await harness.space.listen(8888, EchoTarget().handle)
    channel, _grant = await harness.open({**LPF, "portNumber": "9999"})
    flags: list[int] = []
    channel.add_flag_listener(flags.append)
    server = await forward_port(channel, "127.0.0.1", 0)
    reader, writer = await _connect(server)
    writer.write(b"anyone there?")
    assert await asyncio.wait_for(reader.read(), 10) == b""  # the stream ended, no data
    writer.close()
    assert flags == [Flag.CONNECT_TO_PORT_ERROR]
    assert channel.stats.flags_received == {Flag.CONNECT_TO_PORT_ERROR: 1}
    assert not channel.is_closed  # one failed dial does not end the session


async def test_basic_forwarding_one_connection_at_a_time(harness: Harness) -> None:
    """An old ClientVersion makes the agent pick basic mode; we must follow."""
    target = EchoTarget()
    await harness.space.listen(8888, target.handle)
    channel, _grant = await harness.open(LPF, client_version="1.1.0")
    server = await forward_port(channel, "127.0.0.1", 0)
    ready = channel.ready_info
    assert ready is not None
    assert port_mode(ready.properties, channel.agent_version, "1.1.0") is PortMode.BASIC
    await _echo_round(server, os.urandom(300_000))
    # local EOF -> DisconnectToPort -> the agent hangs up on the target, redials on next data
    async with asyncio.timeout(5):
        while target.eofs < 1:
            await asyncio.sleep(0.01)
    await _echo_round(server, b"second connection")
    # two local connections at once: the second waits for the first, like the plugin's accept
    first = _echo_round(server, os.urandom(50_000))
    second = _echo_round(server, os.urandom(50_000))
    await asyncio.gather(first, second)
    assert target.connections == 4
    await channel.close()


async def test_basic_forwarding_to_a_dead_port_ends_the_session(harness: Harness) -> None:
    """Basic mode dials at session start; a refused dial ends it with the agent's reason."""
    channel, _grant = await harness.open({**LPF, "portNumber": "9999"}, client_version="1.1.0")
    server = await forward_port(channel, "127.0.0.1", 0)
    await asyncio.wait_for(channel.wait_closed(), 10)
    assert channel.error is None  # the service closed it: not a transport failure
    assert "Unable to connect to specified port" in (channel.close_reason or "")
    await asyncio.wait_for(server.wait_closed(), 5)


async def test_stream_session_is_not_a_forwarder(harness: Harness) -> None:
    await harness.space.listen(22, EchoTarget().handle)
    channel, _grant = await harness.open()
    with pytest.raises(ValueError, match=r"channel\.streams\(\)"):
        await forward_port(channel, "127.0.0.1", 0)
