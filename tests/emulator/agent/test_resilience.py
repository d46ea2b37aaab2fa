"""Pacing, injected faults, and resume onto the same protocol state."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable

import pytest

from bridge.emulator.agent import SessionBroker, SessionTarget
from bridge.ssm.core import CoreConfig

from .agent_helpers import TestClient

MiB = 1 << 20


def _target(address: tuple[str, int]) -> SessionTarget:
    return SessionTarget(resolve=lambda host, port: address)


async def _keep_resuming(broker: SessionBroker, session_id: str, client: TestClient) -> None:
    """What a transport does on a drop: ResumeSession, redial the same URL, same core."""
    while not client.closed.is_set():
        await client.disconnected.wait()
        if client.closed.is_set():
            return
        await client.connect(broker.resume_session(session_id), resume=True)


async def _echo_through(client: TestClient, size: int, timeout: float = 30) -> None:
    payload = os.urandom(size)
    await client.send(payload)
    await client.wait_for_data(lambda d: len(d) >= size, timeout=timeout)
    assert len(client.data) == size
    assert hashlib.sha256(client.data).digest() == hashlib.sha256(payload).digest()


@pytest.mark.parametrize("direction", ["drop_every_bytes_sent", "drop_every_bytes_received"])
async def test_resume_after_drops_loses_nothing(
    broker: SessionBroker,
    tcp_echo: tuple[str, int],
    clients: Callable[..., TestClient],
    direction: str,
) -> None:
    grant = broker.create_session(_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    setattr(broker.faults, direction, 400_000)
    resumer = asyncio.create_task(_keep_resuming(broker, grant.session_id, client))
    try:
        await _echo_through(client, MiB)
    finally:
        resumer.cancel()
    stats = broker.sessions[grant.session_id].stats
    assert stats.drops_injected >= 2
    assert stats.resumes == stats.drops_injected
    assert stats.connections == stats.resumes + 1


async def test_lossy_duplicating_reordering_link(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    broker.faults.drop_rate = 0.02
    broker.faults.duplicate_rate = 0.02
    broker.faults.reorder_rate = 0.02
    broker.faults.delay = 0.005
    grant = broker.create_session(_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    await _echo_through(client, 256 * 1024)
    stats = broker.sessions[grant.session_id].stats
    assert stats.frames_dropped and stats.frames_duplicated and stats.frames_reordered
    assert (
        client.core.stats.duplicates_received
        or broker.sessions[grant.session_id].core.stats.duplicates_received
    )


async def test_withheld_handshake_complete_never_readies_client(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    broker.faults.withhold_handshake_complete = True
    grant = broker.create_session(_target(tcp_echo))
    client = clients(grant.stream_url, config=CoreConfig(rate_limit=None, handshake_timeout=0.5))
    await client.connect(grant.token_value)
    async with asyncio.timeout(5):
        await client.closed.wait()  # the client's own handshake timeout
    assert not client.ready.is_set()
    assert client.close_reason and "HandshakeComplete" in client.close_reason


async def test_overeager_client_is_paused_then_started(
    tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    broker = SessionBroker(pacing="realistic")
    await broker.start()
    try:
        grant = broker.create_session(_target(tcp_echo))
        client = clients(grant.stream_url)  # rate_limit=None: no pacing at all
        await client.connect(grant.token_value)
        await client.send(os.urandom(3 * MiB))
        await client.wait_acked()
        session = broker.sessions[grant.session_id]
        assert session.stats.pauses_sent >= 1
        assert client.core.stats.pauses_received >= 1
        async with asyncio.timeout(5):
            while session.stats.starts_sent < session.stats.pauses_sent:
                await asyncio.sleep(0.05)
    finally:
        await broker.stop()


async def test_paced_client_is_never_paused(
    tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    broker = SessionBroker(pacing="realistic")
    await broker.start()
    try:
        grant = broker.create_session(_target(tcp_echo))
        client = clients(grant.stream_url, config=CoreConfig())  # the core's default pacing
        await client.connect(grant.token_value)
        started = asyncio.get_running_loop().time()
        await _echo_through(client, 1200 * 1024)  # more than one second at the ceiling
        elapsed = asyncio.get_running_loop().time() - started
        assert elapsed > 1.1  # both directions held near 1000 messages/s
        session = broker.sessions[grant.session_id]
        assert session.stats.input_messages >= 1200
        assert session.stats.pauses_sent == 0
    finally:
        await broker.stop()


async def test_resume_replaces_a_socket_the_client_abandoned(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    grant = broker.create_session(_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    await client.send(b"before")
    await client.wait_for_data(lambda d: d == b"before")
    old = client.ws
    await client.connect(broker.resume_session(grant.session_id), resume=True)
    assert old is not None
    async with asyncio.timeout(5):
        await old.wait_closed()  # the broker dropped the stale socket
    await client.send(b"after")
    await client.wait_for_data(lambda d: d == b"beforeafter")
    assert broker.sessions[grant.session_id].stats.resumes == 1


async def test_drops_counted_both_ways_stop_at_max_drops(
    broker: SessionBroker, tcp_echo: tuple[str, int], clients: Callable[..., TestClient]
) -> None:
    broker.faults.drop_every_bytes = 100_000
    broker.faults.max_drops = 3
    grant = broker.create_session(_target(tcp_echo))
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    resumer = asyncio.create_task(_keep_resuming(broker, grant.session_id, client))
    try:
        await _echo_through(client, 512 * 1024)
    finally:
        resumer.cancel()
    assert broker.sessions[grant.session_id].stats.drops_injected == 3
