"""Against the service's ~1000 messages/s ceiling: our pacing must never draw a pause."""

from __future__ import annotations

import asyncio

import pytest

from bridge.ssm.core import CoreConfig

from .channel_helpers import BulkTarget, Harness, read_all, seeded_digest, write_seeded

SIZE = 1_500_000  # ~1.5 s each way at the ceiling


# The pacing timer must fire on time: on a loaded machine a late tick sends a burst.
@pytest.mark.solo
async def test_full_speed_both_ways_draws_no_pause_publication(realistic: Harness) -> None:
    target = BulkTarget(download=SIZE, upload=SIZE)
    await realistic.space.listen(22, target.handle)
    channel, grant = await realistic.open(config=CoreConfig())  # production pacing
    reader, writer = channel.streams()
    upload = asyncio.create_task(write_seeded(writer, 2, SIZE))
    assert await asyncio.wait_for(read_all(reader, SIZE), 30) == (
        seeded_digest(target.seed, SIZE),
        SIZE,
    )
    digest = await upload
    assert await asyncio.wait_for(target.received.get(), 30) == (digest, SIZE)
    session = realistic.broker.sessions[grant.session_id]
    assert session.stats.input_messages >= SIZE // 1024
    assert session.stats.pauses_sent == 0
    assert channel.stats.pauses_received == 0
