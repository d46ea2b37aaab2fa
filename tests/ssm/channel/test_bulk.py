"""16 MiB each way through a stdio Port session against the real broker, clean and hostile.

16 MiB is eight full send windows (4096 messages of 512 B) each way, so the transfers still
run through sustained back-pressure and ten mid-transfer reconnects; the 64 MiB volume test
runs at the core level on a virtual clock (tests/ssm/test_ssmcore_bulk.py), where it is cheap."""

from __future__ import annotations

import asyncio
import time

import pytest

from bridge.ssm.transport import ReconnectPhase

from .channel_helpers import (
    BulkTarget,
    EchoTarget,
    Harness,
    read_all,
    seeded_digest,
    write_seeded,
)

SIZE = 16 * 1024 * 1024
UP_SEED, DOWN_SEED = 5, 11


async def _bulk(harness: Harness, size: int) -> float:
    target = BulkTarget(download=size, upload=size, seed=DOWN_SEED)
    await harness.space.listen(22, target.handle)
    channel, _grant = await harness.open()
    await channel.wait_ready()
    reader, writer = channel.streams()
    started = time.perf_counter()
    upload = asyncio.create_task(write_seeded(writer, UP_SEED, size))
    down_digest, down_len = await read_all(reader, size)
    up_digest = await upload
    elapsed = time.perf_counter() - started
    assert (down_len, down_digest) == (size, seeded_digest(DOWN_SEED, size))
    assert await asyncio.wait_for(target.received.get(), 30) == (up_digest, size)
    # the target hung up after its share: channel_closed, then EOF on our reader
    assert await asyncio.wait_for(reader.read(), 30) == b""
    await asyncio.wait_for(channel.wait_closed(), 10)
    assert channel.error is None
    stats = channel.stats
    assert (stats.bytes_sent, stats.bytes_received) == (size, size)
    return elapsed


async def test_16mib_each_way_unthrottled(harness: Harness) -> None:
    elapsed = await _bulk(harness, SIZE)
    print(f"16 MiB each way in {elapsed:.1f} s")


@pytest.mark.long
async def test_16mib_each_way_through_drops_loss_duplication_reordering(harness: Harness) -> None:
    faults = harness.broker.faults
    # App bytes both ways. Each drop lands after the batch that crossed the mark, so it
    # overshoots by up to a send window; a spacing of 1/25 of the total keeps all ten drops
    # inside the transfer (at 1/11 the tenth could fall past its end: 9 drops seen in CI).
    faults.drop_every_bytes = 2 * SIZE // 25
    faults.max_drops = 10
    faults.drop_rate = faults.duplicate_rate = faults.reorder_rate = 0.05
    faults.seed = 3
    elapsed = await _bulk(harness, SIZE)
    channel = harness.channels[0]
    session = next(iter(harness.broker.sessions.values()))
    print(f"16 MiB each way with faults in {elapsed:.1f} s; {channel.stats}; {session.stats}")
    assert session.stats.drops_injected == 10
    assert channel.stats.reconnects == 10
    assert session.stats.frames_dropped > 0 and session.stats.frames_duplicated > 0
    assert channel.stats.retransmissions > 0
    phases = [event.phase for event in harness.reconnect_events]
    assert phases.count(ReconnectPhase.RESUMED) == 10
    assert ReconnectPhase.FAILED not in phases


async def test_echo_target_under_loss_does_not_deadlock(harness: Harness) -> None:
    """A target that is backed up must not stop the agent from taking acks (both windows full)."""
    size = 16 * 1024 * 1024
    target = EchoTarget()
    await harness.space.listen(22, target.handle)
    faults = harness.broker.faults
    faults.drop_rate = faults.duplicate_rate = faults.reorder_rate = 0.05
    faults.seed = 7
    channel, _grant = await harness.open()
    await channel.wait_ready()
    reader, writer = channel.streams()
    upload = asyncio.create_task(write_seeded(writer, UP_SEED, size))
    echoed_digest, echoed_len = await asyncio.wait_for(read_all(reader, size), 240)
    assert (echoed_len, echoed_digest) == (size, await upload)
    await channel.close()
