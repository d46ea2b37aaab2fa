"""``--latency-ms``: the delay line alone (order, round trips, no serialized throughput) and
the emulator behind it (an API call and a data channel's handshake pay the round trips)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bridge.emulator import start_in_thread
from bridge.emulator.config import default_config
from bridge.emulator.config_check import ConfigError
from bridge.emulator.config_load import config_from_mapping
from bridge.emulator.delay import DelayLine
from bridge.ssm.transport import open_channel

from .emulator_helpers import client, make_config, space_arn, start_app

DELAY = 0.04


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def test_delay_line_round_trip_and_order_without_serializing() -> None:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    line = DelayLine("127.0.0.1", server.sockets[0].getsockname()[1], DELAY)
    await line.start()
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", line.port)
        started = loop.time()
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        assert loop.time() - started >= 2 * DELAY
        # 20 messages a few ms apart: each is released at its own arrival + delay, so the
        # whole burst takes about one round trip plus the spacing, not 20 delays.
        started = loop.time()
        expected = b""
        for n in range(20):
            message = f"<{n:02d}>".encode()
            expected += message
            writer.write(message)
            await asyncio.sleep(0.002)
        got = await reader.readexactly(len(expected))
        elapsed = loop.time() - started
        assert got == expected
        assert 2 * DELAY <= elapsed < 4 * DELAY + 0.1
        writer.close()
    finally:
        await line.stop()
        server.close()


async def _banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"banner")  # a server that speaks first, as sshd does
    await writer.drain()
    await reader.read()
    writer.close()


@pytest.mark.parametrize("handshake", [True, False])
async def test_delay_line_charges_tcp_handshake_round_trip(handshake: bool) -> None:
    """A new connection's first exchange costs two round trips (TCP's handshake, then the
    exchange) whichever side speaks first; with ``tcp_handshake=False`` the connection is
    free, as on loopback."""
    loop = asyncio.get_running_loop()
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    speaks_first = await asyncio.start_server(_banner, "127.0.0.1", 0)
    lines = [
        DelayLine("127.0.0.1", s.sockets[0].getsockname()[1], DELAY, tcp_handshake=handshake)
        for s in (echo, speaks_first)
    ]
    for line in lines:
        await line.start()
    rounds = 2 if handshake else 1
    try:
        started = loop.time()
        reader, writer = await asyncio.open_connection("127.0.0.1", lines[0].port)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        first = loop.time() - started
        assert rounds * 2 * DELAY <= first < (rounds + 1) * 2 * DELAY
        started = loop.time()  # the next exchange on the same connection: one round trip
        writer.write(b"pong")
        assert await reader.readexactly(4) == b"pong"
        assert 2 * DELAY <= loop.time() - started < 4 * DELAY
        writer.close()

        started = loop.time()
        reader, writer = await asyncio.open_connection("127.0.0.1", lines[1].port)
        assert await reader.readexactly(6) == b"banner"
        # with the handshake, the server accepts 1.5 round trips in and its banner takes the
        # last half; without it the banner is one delay away
        least = 4 * DELAY if handshake else DELAY
        assert least <= loop.time() - started < least + 2 * DELAY
        writer.close()
    finally:
        for line in lines:
            await line.stop()
        echo.close()
        speaks_first.close()


async def test_delay_line_to_nothing_closes_the_client() -> None:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    line = DelayLine("127.0.0.1", port, DELAY)
    await line.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", line.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await line.stop()


def test_emulator_latency_on_api_calls_and_websocket_frames() -> None:
    with start_in_thread(make_config(latency_ms=DELAY * 1000)) as emu:
        sm = client(emu, "sagemaker")
        start_app(sm, "ce1")
        time.sleep(0.35)  # FAST's start_session_failure_window after an app start
        started = time.monotonic()
        grant: dict[str, Any] = sm.start_session(ResourceIdentifier=space_arn("ce1"))
        assert time.monotonic() - started >= 2 * DELAY  # the request, then the response

        async def handshake() -> tuple[float, bytes]:
            loop = asyncio.get_running_loop()
            channel = await open_channel(grant["StreamUrl"], grant["TokenValue"])
            try:
                began = loop.time()
                await channel.wait_ready()
                reader, _ = channel.streams()
                banner = await asyncio.wait_for(reader.readline(), 10)
                return loop.time() - began, banner
            finally:
                await channel.close()

        began = time.monotonic()
        elapsed, banner = asyncio.run(handshake())
        assert banner.startswith(b"SSH-2.0-")
        # the websocket dial, then the handshake's frames: at least one exchange each way
        assert time.monotonic() - began >= 2 * DELAY
        assert elapsed >= 0


def test_latency_is_checked() -> None:
    assert default_config().latency_ms == 0
    assert config_from_mapping({"latency_ms": 25}).latency_ms == 25
    with pytest.raises(ConfigError, match="latency_ms: -1"):
        config_from_mapping({"latency_ms": -1})
    with pytest.raises(ConfigError, match="--latency-ms"):
        default_config().with_overrides(latency_ms=20000)
