"""Every way a channel can fail ends in a clear ChannelError, promptly, never a hang."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from bridge.emulator.agent import SessionBroker, SessionGrant, SessionTarget
from bridge.ssm.core import CoreConfig
from bridge.ssm.errors import ChannelClosedError, ChannelError, HandshakeTimeout, ResumeFailed
from bridge.ssm.transport import DataChannel, ReconnectPhase, open_channel

from .channel_helpers import FAST_RETRY, UNTHROTTLED, EchoTarget, Harness

Session = tuple[DataChannel, SessionGrant, asyncio.StreamReader, asyncio.StreamWriter]


async def _echo_session(harness: Harness, **kwargs: Any) -> Session:
    target = EchoTarget()
    await harness.space.listen(22, target.handle)
    channel, grant = await harness.open(**kwargs)
    await channel.wait_ready()
    reader, writer = channel.streams()
    writer.write(b"hello")
    assert await asyncio.wait_for(reader.readexactly(5), 10) == b"hello"
    return channel, grant, reader, writer


def _drop_once(harness: Harness, grant: SessionGrant, writer: asyncio.StreamWriter) -> None:
    """Make the broker abort the websocket at the next byte that moves."""
    faults = harness.broker.faults
    faults.max_drops = harness.broker.sessions[grant.session_id].stats.drops_injected + 1
    faults.drop_every_bytes = 1
    writer.write(b"x")


async def test_refused_resume_fails_the_channel_and_its_streams(harness: Harness) -> None:
    channel, grant, reader, writer = await _echo_session(harness)
    harness.broker.faults.refuse_resume = True
    started = time.monotonic()
    _drop_once(harness, grant, writer)
    with pytest.raises(ResumeFailed, match="could not be resumed"):
        await asyncio.wait_for(reader.read(), 10)
    assert time.monotonic() - started < 5
    assert isinstance(channel.error, ResumeFailed)
    assert channel.is_closed
    assert [e.phase for e in harness.reconnect_events][-1] is ReconnectPhase.FAILED


async def test_a_drop_without_resume_fails_at_once(harness: Harness) -> None:
    _channel, grant, reader, writer = await _echo_session(harness, can_resume=False)
    _drop_once(harness, grant, writer)
    with pytest.raises(ResumeFailed, match="no resume"):
        await asyncio.wait_for(reader.read(), 5)
    writer.write(b"more")  # dropped quietly, like a closed socket
    with pytest.raises(ResumeFailed):
        await writer.drain()


async def test_unreachable_service_gives_up_after_bounded_redials(harness: Harness) -> None:
    """Resume tokens come, but every redial is refused: the retry budget ends it."""
    channel, grant, reader, writer = await _echo_session(harness)
    port = harness.broker.port
    channel._url = f"ws://127.0.0.1:1/v1/data-channel/{grant.session_id}?role=x"  # nobody listens
    _drop_once(harness, grant, writer)
    with pytest.raises(ResumeFailed, match="after 6 attempts"):
        await asyncio.wait_for(reader.read(), 10)
    assert port  # the broker itself stayed up
    assert [e.phase for e in harness.reconnect_events].count(ReconnectPhase.RETRYING) == 6


async def test_handshake_that_never_completes_times_out(harness: Harness) -> None:
    harness.broker.faults.withhold_handshake_complete = True
    await harness.space.listen(22, EchoTarget().handle)
    started = time.monotonic()
    channel, _grant = await harness.open(config=CoreConfig(rate_limit=None, handshake_timeout=0.5))
    with pytest.raises(HandshakeTimeout):
        await asyncio.wait_for(channel.wait_ready(), 10)
    assert time.monotonic() - started < 3
    reader, _writer = channel.streams()
    with pytest.raises(HandshakeTimeout):
        await asyncio.wait_for(reader.read(), 5)


async def test_ready_timeout_bounds_a_silent_agent(harness: Harness) -> None:
    """The agent side never even sends the HandshakeRequest (a black-holed service)."""
    harness.broker.faults.drop_rate = 1.0
    await harness.space.listen(22, EchoTarget().handle)
    channel, _grant = await harness.open(ready_timeout=0.5)
    with pytest.raises(HandshakeTimeout, match=r"not ready within 0\.5 s"):
        await asyncio.wait_for(channel.wait_ready(), 10)


async def test_bad_stream_url_fails_cleanly_without_leaking_the_query(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "cell-number=SECRETQUERY"
    with pytest.raises(ChannelError) as info:
        await open_channel(
            f"ws://127.0.0.1:1/v1/data-channel/x?{secret}",
            "TOKENSECRET",
            open_timeout=1,
            retry=FAST_RETRY,
        )
    message = str(info.value)
    assert "ws://127.0.0.1:1/v1/data-channel/x?<redacted>" in message
    for text in (message, caplog.text):
        assert "SECRETQUERY" not in text and "TOKENSECRET" not in text


async def test_secrets_stay_out_of_debug_logs_of_a_whole_session(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel, grant, _reader, writer = await _echo_session(harness)
    _drop_once(harness, grant, writer)
    await asyncio.sleep(0.5)
    assert channel.stats.reconnects == 1
    await channel.close()
    query = grant.stream_url.split("?", 1)[1]
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bridge.ssm")]
    assert any("resumed" in line for line in ours)
    assert any("< HTTP/1.1 101" in line for line in ours)  # websockets' own debug goes through
    for line in ours:  # (the broker's server-side debug log is the emulator's business)
        assert grant.token_value not in line and query not in line


async def test_a_refused_token_is_a_clear_error_not_a_resume_loop(harness: Harness) -> None:
    await harness.space.listen(22, EchoTarget().handle)
    grant = harness.grant()
    resumes = 0

    async def resume() -> str:
        nonlocal resumes
        resumes += 1
        return "x"

    channel = await open_channel(grant.stream_url, "not-the-token", resume=resume)
    with pytest.raises(ChannelError, match="refused the session token") as info:
        await asyncio.wait_for(channel.wait_ready(), 10)
    assert "not-the-token" not in str(info.value)
    assert grant.stream_url.split("?", 1)[1] not in str(info.value)
    assert resumes == 0


async def test_a_hung_resume_call_is_bounded(harness: Harness) -> None:
    await harness.space.listen(22, EchoTarget().handle)
    grant = harness.grant()

    async def resume() -> str:
        await asyncio.sleep(3600)
        return ""

    channel = await open_channel(
        grant.stream_url, grant.token_value, resume=resume, resume_timeout=0.2, retry=FAST_RETRY
    )
    reader, writer = channel.streams()
    writer.write(b"x")
    assert await asyncio.wait_for(reader.readexactly(1), 10) == b"x"
    _drop_once(harness, grant, writer)
    with pytest.raises(ResumeFailed, match="TimeoutError"):
        await asyncio.wait_for(reader.read(), 5)


async def test_agent_side_handshake_timeout_reaches_the_client() -> None:
    """The agent never hears our HandshakeResponse: it gives up and the service closes."""
    broker = SessionBroker(pacing="unthrottled", handshake_timeout=0.5)
    await broker.start()
    try:
        broker.faults.drop_rate = 1.0  # channel_closed is the service's own: it gets through
        grant = broker.create_session(SessionTarget())
        channel = await open_channel(grant.stream_url, grant.token_value, config=UNTHROTTLED)
        started = time.monotonic()
        with pytest.raises(ChannelClosedError, match="service closed the channel"):
            await asyncio.wait_for(channel.wait_ready(), 10)
        assert time.monotonic() - started < 3
        assert channel.error is None and channel.close_reason
    finally:
        await broker.stop()
