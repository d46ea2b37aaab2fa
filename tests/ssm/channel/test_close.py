"""Clean endings, from either side: no byte lost, no hang, EOF where the other side expects it."""

from __future__ import annotations

import asyncio

from .channel_helpers import BulkTarget, EchoTarget, Harness, seeded_digest, write_seeded

SIZE = 2 * 1024 * 1024


async def _wait_until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_client_close_delivers_everything_then_closes_the_websocket(
    harness: Harness,
) -> None:
    target = BulkTarget(upload=SIZE)
    await harness.space.listen(22, target.handle)
    channel, grant = await harness.open()
    _reader, writer = channel.streams()
    digest = await write_seeded(writer, 1, SIZE)  # may still be queued when close() starts
    await asyncio.wait_for(channel.close(), 5)  # well inside close_timeout: no stall
    assert channel.error is None and channel.is_closed
    assert await asyncio.wait_for(target.received.get(), 10) == (digest, SIZE)
    session = harness.broker.sessions[grant.session_id]
    await _wait_until(lambda: not session.attached)


async def test_plain_close_leaves_the_session_resumable(harness: Harness) -> None:
    """Port stdio mode has no close message: the service only sees the websocket go."""
    target = EchoTarget()
    await harness.space.listen(22, target.handle)
    channel, grant = await harness.open()
    reader, writer = channel.streams()
    writer.write(b"ping")
    assert await asyncio.wait_for(reader.readexactly(4), 10) == b"ping"
    assert channel.stats.websocket_latency is not None  # keepalive pinged right after connect
    await asyncio.wait_for(channel.close(), 3)
    session = harness.broker.sessions[grant.session_id]
    await _wait_until(lambda: not session.attached)
    await asyncio.sleep(0.1)
    assert not session.ended.is_set() and target.eofs == 0


async def test_client_close_with_terminate_ends_the_session_and_the_target_sees_eof(
    harness: Harness,
) -> None:
    target = EchoTarget()
    await harness.space.listen(22, target.handle)
    channel, grant = await harness.open()
    reader, writer = channel.streams()
    writer.write(b"ping")
    assert await asyncio.wait_for(reader.readexactly(4), 10) == b"ping"
    await channel.close(terminate=True)
    await _wait_until(lambda: target.eofs == 1 or (target.connections and not target.eofs))
    session = harness.broker.sessions[grant.session_id]
    await asyncio.wait_for(session.ended.wait(), 10)
    assert channel.error is None


async def test_writer_close_is_a_clean_channel_close(harness: Harness) -> None:
    target = BulkTarget(upload=5)
    await harness.space.listen(22, target.handle)
    channel, _grant = await harness.open()
    _reader, writer = channel.streams()
    writer.write(b"12345")
    assert writer.can_write_eof()
    writer.write_eof()  # no half-close in the protocol: finish, then close
    await asyncio.wait_for(writer.wait_closed(), 10)
    assert channel.is_closed and channel.error is None
    assert (await asyncio.wait_for(target.received.get(), 10))[1] == 5


async def test_target_eof_closes_the_channel_and_the_reader_sees_eof(harness: Harness) -> None:
    target = BulkTarget(download=100_000, upload=0)  # sends, then hangs up at once
    await harness.space.listen(22, target.handle)
    channel, _grant = await harness.open()
    reader, _writer = channel.streams()
    data = await asyncio.wait_for(reader.read(-1), 10)  # everything, then EOF
    assert len(data) == 100_000
    import hashlib

    assert hashlib.sha256(data).hexdigest() == seeded_digest(target.seed, 100_000)
    await asyncio.wait_for(channel.wait_closed(), 5)
    assert channel.error is None


async def test_close_times_out_when_nothing_is_acknowledged(harness: Harness) -> None:
    """A black-holed service: close() gives up after its timeout instead of hanging."""
    target = EchoTarget()
    await harness.space.listen(22, target.handle)
    channel, _grant = await harness.open()
    await channel.wait_ready()
    harness.broker.faults.drop_rate = 1.0
    _reader, writer = channel.streams()
    writer.write(b"lost" * 1000)
    await asyncio.wait_for(channel.close(timeout=0.3), 3)
    assert channel.is_closed


async def test_terminate_session_from_the_service_gives_the_reader_eof(harness: Harness) -> None:
    await harness.space.listen(22, EchoTarget().handle)
    channel, grant = await harness.open()
    reader, writer = channel.streams()
    writer.write(b"ping")
    assert await asyncio.wait_for(reader.readexactly(4), 10) == b"ping"
    harness.broker.terminate_session(grant.session_id)  # TerminateSession API
    assert await asyncio.wait_for(reader.read(), 10) == b""
    await asyncio.wait_for(channel.wait_closed(), 5)
    assert channel.error is None
    assert channel.close_reason == "the service closed the channel"
