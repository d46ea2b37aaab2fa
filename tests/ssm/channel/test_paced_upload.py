"""A paced upload end to end: one websocket write per pacing batch, and no coalescing hold
for the wake-ups in between (a read of acks, bytes from the application while the bucket
refills), which used to cost a timer and a wake-up each."""

from __future__ import annotations

import asyncio

import pytest

from bridge.ssm.coalesce import WriteScheduler
from bridge.ssm.core import CoreConfig

from .channel_helpers import BulkTarget, Harness, count_calls, write_seeded

SIZE = 400 * 1024  # 400 messages: ~0.1 s at 4000 messages/s


@pytest.mark.solo
async def test_a_paced_upload_writes_once_per_batch_and_never_holds(harness: Harness) -> None:
    target = BulkTarget(download=0, upload=SIZE)
    await harness.space.listen(22, target.handle)
    # the daemon's pacing, faster (the unthrottled emulator enforces no ceiling)
    config = CoreConfig(rate_limit=4000.0, rate_burst=32, pace_batch=28)
    channel, _grant = await harness.open(config=config)
    _reader, writer = channel.streams()
    digest = await write_seeded(writer, 3, SIZE)
    assert await asyncio.wait_for(target.received.get(), 30) == (digest, SIZE)
    stats = channel.stats
    assert stats.write_holds <= 2, stats  # the handshake's acks; 11 before (one per ack read)
    batches = SIZE // 1024 // 28
    # the handshake's frames, then about one write per batch of 28 (a late timer may split one)
    assert stats.websocket_writes <= 3 + 2 * batches, stats
    assert stats.retransmissions == 0


async def test_the_pacing_tick_writes_from_its_own_step(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timer's step frames and writes each batch, and a read of acks re-arms the timer from
    the read loop's step: the writer task is not woken for either (before, twice per batch:
    one loop iteration and one task step more each)."""
    calls = count_calls(monkeypatch, WriteScheduler, "wake")
    target = BulkTarget(download=0, upload=SIZE)
    await harness.space.listen(22, target.handle)
    config = CoreConfig(rate_limit=4000.0, rate_burst=32, pace_batch=28)
    channel, _grant = await harness.open(config=config)
    await channel.wait_ready()
    calls.clear()  # the handshake's are not the point
    _reader, writer = channel.streams()
    digest = await write_seeded(writer, 5, SIZE)
    assert await asyncio.wait_for(target.received.get(), 30) == (digest, SIZE)
    batches = SIZE // 1024 // 28
    assert channel.stats.websocket_writes >= SIZE // 1024 // 32  # bursts of 28 to 32
    assert calls["wake"] < batches, (calls, batches)  # a write of the test inside the hold: some
    assert channel.stats.retransmissions == 0
