"""Back-pressure end to end: a slow reader stops us reading the websocket, a stalled peer
makes writer.drain() wait, and memory stays bounded either way."""

from __future__ import annotations

import asyncio
import hashlib

from bridge.ssm.core import CoreConfig
from bridge.ssm.stream import HIGH, LOW

from .channel_helpers import BulkTarget, EchoTarget, Harness, seeded_digest

SIZE = 8 * 1024 * 1024


async def test_a_reader_that_stops_reading_pauses_the_websocket(harness: Harness) -> None:
    target = BulkTarget(download=SIZE, upload=0)
    await harness.space.listen(22, target.handle)
    channel, _grant = await harness.open(stream_limit=64 * 1024)
    reader, _writer = channel.streams()
    transport = _writer.transport
    async with asyncio.timeout(10):
        while transport.is_reading():  # the StreamReader filled up and paused us
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    buffered = len(reader._buffer)  # what we hold for the application, bounded by the limit
    assert buffered <= 2 * 64 * 1024 + 64 * 1024
    assert channel.stats.bytes_received < SIZE // 2  # the rest waits upstream, unacked
    data = await asyncio.wait_for(reader.read(-1), 30)  # now read it all
    assert hashlib.sha256(data).hexdigest() == seeded_digest(target.seed, SIZE)


async def test_drain_waits_while_the_peer_acknowledges_nothing(harness: Harness) -> None:
    await harness.space.listen(22, EchoTarget().handle)
    channel, _grant = await harness.open()
    await channel.wait_ready()
    harness.broker.faults.drop_rate = 1.0  # from now on nothing gets through either way
    _reader, writer = channel.streams()
    block = b"\0" * 65536
    written = 0
    blocked = False
    for _ in range(200):  # 12.5 MiB if nothing pushed back
        writer.write(block)
        written += len(block)
        try:
            await asyncio.wait_for(writer.drain(), 0.5)
        except TimeoutError:
            blocked = True
            break
    assert blocked, "drain() never applied back-pressure"
    # written and not sent (here or unframed in the core): at most the high mark and a block
    assert writer.transport.get_write_buffer_size() <= HIGH + len(block)
    assert written < 12 * 1024 * 1024
    harness.broker.faults.drop_rate = 0.0
    await asyncio.wait_for(writer.drain(), 20)  # retransmissions get it moving again
    writer.transport.abort()  # nobody reads the echo: don't wait for it at teardown
    await asyncio.wait_for(channel.wait_closed(), 5)


async def test_drain_waits_while_the_core_holds_the_high_mark_unsent(harness: Harness) -> None:
    """A paced channel: the writer is paused once ``HIGH`` bytes wait unsent, counting those the
    core took (before, only bytes the core had refused counted, so a writer filled the core's
    1 MiB send buffer first: a relay then read its source, ssh, in every small piece it wrote);
    it resumes once the pacing has sent the queue down to ``LOW``."""
    target = BulkTarget(download=0, upload=2 * 1024 * 1024)
    await harness.space.listen(22, target.handle)
    config = CoreConfig(rate_limit=2000.0, rate_burst=32, pace_batch=28)  # 2 MB/s
    channel, _grant = await harness.open(config=config)
    await channel.wait_ready()
    _reader, writer = channel.streams()
    block = b"\1" * 65536
    written = 0
    while True:
        writer.write(block)
        written += len(block)
        try:
            await asyncio.wait_for(writer.drain(), 0.05)  # ~100 messages go meanwhile
        except TimeoutError:
            break
    assert written <= HIGH + 2 * len(block), written
    assert writer.transport.get_write_buffer_size() > LOW  # paused, not yet resumed
    await asyncio.wait_for(writer.drain(), 10)  # the pacing sends it down to the low mark
    assert writer.transport.get_write_buffer_size() <= LOW
    writer.transport.abort()
    await asyncio.wait_for(channel.wait_closed(), 5)
