"""Sessions, tokens and the control-plane calls of the broker."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bridge.emulator.agent import (
    ResumeRefused,
    SessionBroker,
    SessionNotFound,
    SessionTarget,
)
from bridge.ssm.codec import MessageType, PayloadType, decode
from bridge.ssm.core import CLIENT_VERSION

from .agent_helpers import TestClient


def _echo_target(address: tuple[str, int]) -> SessionTarget:
    return SessionTarget(resolve=lambda host, port: address)


async def _close_code(url: str, first: str | bytes) -> int | None:
    async with connect(url, ping_interval=None) as ws:
        await ws.send(first)
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
        return ws.close_code


def _open(token: str) -> str:
    return json.dumps(
        {
            "MessageSchemaVersion": "1.0",
            "RequestId": str(uuid.uuid4()),
            "TokenValue": token,
            "ClientId": str(uuid.uuid4()),
            "ClientVersion": CLIENT_VERSION,
        }
    )


async def test_grant_shapes(broker: SessionBroker, tcp_echo: tuple[str, int]) -> None:
    grant = broker.create_session(_echo_target(tcp_echo), user="alice")
    assert re.fullmatch(r"alice-[0-9a-f]{17}", grant.session_id)
    assert grant.stream_url.startswith(
        f"ws://127.0.0.1:{broker.port}/v1/data-channel/{grant.session_id}?role=publish_subscribe&cell-number="
    )
    assert len(grant.token_value) > 100
    assert grant.token_value not in repr(grant)


async def test_good_token_runs_port_handshake(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    grant = broker.create_session(_echo_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    async with asyncio.timeout(5):
        await client.ready.wait()
    assert client.core.session_type == "Port"
    assert dict(client.core.properties) == {"portNumber": "22"}
    session = broker.sessions[grant.session_id]
    assert session.client_version == CLIENT_VERSION
    await client.send(b"ping")
    await client.wait_for_data(lambda d: d == b"ping")


async def test_reused_and_bad_tokens_are_refused(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    grant = broker.create_session(_echo_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    async with asyncio.timeout(5):
        await client.ready.wait()
    assert await _close_code(grant.stream_url, _open(grant.token_value)) == 1008  # reused
    assert await _close_code(grant.stream_url, _open("not-a-token")) == 1008
    other = broker.create_session(_echo_target(tcp_echo))
    assert await _close_code(grant.stream_url, _open(other.token_value)) == 1008  # wrong session
    assert await _close_code(grant.stream_url, b"\x00" * 130) == 1002  # binary first frame
    assert await _close_code(grant.stream_url, "{not json") == 1002
    # the live channel was not disturbed by any of that
    await client.send(b"still here")
    await client.wait_for_data(lambda d: d == b"still here")


async def test_resume_token_must_come_from_same_client(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    grant = broker.create_session(_echo_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    async with asyncio.timeout(5):
        await client.ready.wait()
    token = broker.resume_session(grant.session_id)
    assert await _close_code(grant.stream_url, _open(token)) == 1008  # another ClientId


async def test_terminate_sends_channel_closed(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    grant = broker.create_session(_echo_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    async with asyncio.timeout(5):
        await client.ready.wait()
    broker.terminate_session(grant.session_id)
    async with asyncio.timeout(5):
        await client.closed.wait()
        await broker.sessions[grant.session_id].wait_ended()
    with pytest.raises(SessionNotFound):
        broker.resume_session(grant.session_id)
    with pytest.raises(SessionNotFound):
        broker.terminate_session(grant.session_id)


async def test_refused_and_unknown_resume(broker: SessionBroker, tcp_echo: tuple[str, int]) -> None:
    grant = broker.create_session(_echo_target(tcp_echo))
    with pytest.raises(SessionNotFound):
        broker.resume_session("nobody-0123456789abcdef0")
    broker.faults.refuse_resume = True
    with pytest.raises(ResumeRefused):
        broker.resume_session(grant.session_id)


async def test_handshake_timeout_ends_with_channel_closed(tcp_echo: tuple[str, int]) -> None:
    broker = SessionBroker(pacing="unthrottled", handshake_timeout=0.5)
    await broker.start()
    try:
        grant = broker.create_session(_echo_target(tcp_echo))
        async with connect(grant.stream_url, ping_interval=None) as ws:
            await ws.send(_open(grant.token_value))
            seen: list[tuple[str, int, int, int]] = []
            async with asyncio.timeout(5):
                with pytest.raises(ConnectionClosed):
                    while True:  # a client that never answers the handshake
                        message = decode(await ws.recv())  # type: ignore[arg-type]
                        seen.append(
                            (
                                message.message_type,
                                message.payload_type,
                                message.sequence_number,
                                message.flags,
                            )
                        )
        # PT5 at seq 0 with Flags=1 (SYN), retransmitted while unacked
        assert seen[0] == (MessageType.OUTPUT_STREAM_DATA, PayloadType.HANDSHAKE_REQUEST, 0, 1)
        assert len(seen) > 2
        assert seen[-1][0] == MessageType.CHANNEL_CLOSED
        session = broker.sessions[grant.session_id]
        assert session.close_reason and "HandshakeResponse" in session.close_reason
    finally:
        await broker.stop()


async def test_stop_closes_live_channels(
    tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    broker = SessionBroker(pacing="unthrottled")
    await broker.start()
    grant = broker.create_session(_echo_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    async with asyncio.timeout(5):
        await client.ready.wait()
    await broker.stop()
    async with asyncio.timeout(5):
        await client.closed.wait()


async def test_session_without_a_socket_ends_after_orphan_timeout(
    tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    broker = SessionBroker(pacing="unthrottled", orphan_timeout=0.3)
    await broker.start()
    try:
        grant = broker.create_session(_echo_target(tcp_echo))
        client = clients(grant.stream_url)
        await client.connect(grant.token_value)
        async with asyncio.timeout(5):
            await client.ready.wait()
        token = broker.resume_session(grant.session_id)
        assert client.ws is not None
        client.ws.transport.abort()  # the client vanishes
        async with asyncio.timeout(5):
            await broker.sessions[grant.session_id].wait_ended()
        assert await _close_code(grant.stream_url, _open(token)) == 1008
    finally:
        await broker.stop()
