"""A session whose target ends sends channel_closed only once the client has its output.

CI once saw a reader get a clean end 354 messages short of 16 MiB: the session waited a fixed
5 s for the client's acks, through websocket drops and resends, then closed anyway. The wait
now lasts while acks keep coming or a resume may still come (``FlushLimits``); the limits are
scaled down here, so each test runs in well under a second.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable

import pytest

from bridge.emulator.agent import (
    AgentSession,
    FlushLimits,
    SessionBroker,
    SessionGrant,
    SessionTarget,
)
from bridge.ssm.core import ChannelClosed

from .agent_helpers import TestClient

STALL = 0.2


class OneShotTarget:
    """A TCP target that sends ``payload`` when told to, then hangs up (the session ends)."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.go = asyncio.Event()
        self.address: tuple[str, int] = ("", 0)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.go.wait()
        writer.write(self.payload)
        await writer.drain()
        writer.close()

    def session(self) -> SessionTarget:
        return SessionTarget(resolve=lambda host, port: self.address)


@pytest.fixture
async def target() -> AsyncIterator[OneShotTarget]:
    one = OneShotTarget(os.urandom(256 * 1024))
    server = await asyncio.start_server(one.handle, "127.0.0.1", 0)
    one.address = server.sockets[0].getsockname()[:2]
    yield one
    server.close()


async def _ready(
    broker: SessionBroker,
    target: OneShotTarget,
    clients: Callable[..., TestClient],
    stall: float = STALL,
) -> tuple[SessionGrant, TestClient, AgentSession]:
    broker.close_flush = FlushLimits(stall=stall, total=10.0)
    grant = broker.create_session(target.session())
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    await asyncio.wait_for(client.ready.wait(), 5)
    return grant, client, broker.sessions[grant.session_id]


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def _ending_unheard(
    broker: SessionBroker, target: OneShotTarget, clients: Callable[..., TestClient]
) -> tuple[SessionGrant, TestClient, AgentSession]:
    """A ready session whose link goes dark (the output is lost, and no ack comes back) just
    before its target sends and hangs up: it is ending, waiting for acks of all its output."""
    grant, client, session = await _ready(broker, target, clients)
    broker.faults.drop_rate = 1.0
    target.go.set()
    await _until(lambda: session.is_ending)
    assert client.ws is not None
    return grant, client, session


def _closed(client: TestClient) -> ChannelClosed:
    (closed,) = [e for e in client.events if isinstance(e, ChannelClosed)]
    return closed


async def test_output_unacked_across_a_drop_arrives_after_the_resume(
    broker: SessionBroker, target: OneShotTarget, clients: Callable[..., TestClient]
) -> None:
    grant, client, session = await _ending_unheard(broker, target, clients)
    assert client.ws is not None
    client.ws.transport.abort()  # ... and the websocket drops with all of it unacked
    await client.disconnected.wait()
    await asyncio.sleep(3 * STALL)  # a reconnect taking longer than the stall limit
    assert session.resumable and not session.ended.is_set()
    broker.faults.drop_rate = 0.0
    await client.connect(broker.resume_session(grant.session_id), resume=True)
    await asyncio.wait_for(client.closed.wait(), 5)
    assert client.data == target.payload
    assert _closed(client) == ChannelClosed("", grant.session_id, complete=True)


async def test_a_slow_but_steady_client_gets_everything(
    target: OneShotTarget, clients: Callable[..., TestClient]
) -> None:
    """Paced at ~990 messages/s, 256 KiB takes ~0.26 s to send: longer than the stall limit,
    but acks keep coming, so the wait goes on."""
    broker = SessionBroker(pacing="realistic")
    await broker.start()
    try:
        _grant, client, _session = await _ready(broker, target, clients, stall=0.1)
        target.go.set()
        await asyncio.wait_for(client.closed.wait(), 5)
        assert client.data == target.payload
        assert _closed(client).complete
    finally:
        await broker.stop()


async def test_a_connected_client_that_acks_nothing_is_given_up_after_the_stall(
    broker: SessionBroker, target: OneShotTarget, clients: Callable[..., TestClient]
) -> None:
    _grant, client, session = await _ending_unheard(broker, target, clients)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(session.ended.wait(), 5)
    assert STALL - 0.05 <= loop.time() - started < STALL + 1.0  # from our poll, not its start
    assert not client.data  # all of it lost on the way: a tail loss the client cannot see


async def test_a_client_that_never_resumes_is_given_up_after_the_resume_window(
    broker: SessionBroker, target: OneShotTarget, clients: Callable[..., TestClient]
) -> None:
    broker.orphan_timeout = 0.3
    _grant, client, session = await _ending_unheard(broker, target, clients)
    assert client.ws is not None
    client.ws.transport.abort()  # dropped, not closed: a resume may come
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(session.ended.wait(), 5)
    assert 0.3 - 0.05 <= loop.time() - started < 1.5
    assert not session.resumable


async def test_stopping_the_broker_cuts_the_wait_short(
    broker: SessionBroker, target: OneShotTarget, clients: Callable[..., TestClient]
) -> None:
    _grant, client, session = await _ending_unheard(broker, target, clients)
    assert client.ws is not None
    client.ws.transport.abort()  # gone, and resumable for orphan_timeout (600 s)
    await client.disconnected.wait()
    await asyncio.wait_for(broker.stop(), 2)
    assert session.ended.is_set()


async def test_a_client_that_closed_its_websocket_is_not_waited_for(
    broker: SessionBroker, target: OneShotTarget, clients: Callable[..., TestClient]
) -> None:
    """A close frame (1000, as our transport's close() sends) means the client is done reading:
    no resume will come, so the session ends now rather than after the resume window."""
    _grant, client, session = await _ending_unheard(broker, target, clients)
    assert client.ws is not None
    await client.ws.close()
    await asyncio.wait_for(session.ended.wait(), 1)
    assert not session.resumable
