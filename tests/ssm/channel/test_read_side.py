"""The read side's shortcuts on a real channel (bridge/ssm/readside.py): a read's data goes
straight to an attached sink while it keeps up, and into the stream's reader, in order, when it
does not; a read's acks are written from the read loop's own step, without waking the writer."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import pytest

from bridge.ssm.coalesce import WriteScheduler
from bridge.ssm.core import CoreConfig

from .channel_helpers import BulkTarget, Harness, seeded_digest

SIZE = 96 * 1024


def _keep_info(caplog: pytest.LogCaptureFixture) -> None:
    """websockets' debug mode turns the batch receiver off (see test_read_hold.py)."""
    for name in ("", "websockets", "smconnect", "bridge"):
        caplog.set_level(logging.INFO, logger=name)


async def _download_through(realistic: Harness, takes: list[bool]) -> tuple[str, int, int]:
    """SIZE bytes downloaded with a sink attached that takes a delivery when the next entry of
    ``takes`` (cycled) says so, the rest read from the stream's reader meanwhile, both into
    one buffer in the order they came: (digest, bytes through the sink, through the reader)."""
    realistic.broker.agent_burst = 1
    target = BulkTarget(download=SIZE, upload=0)
    await realistic.space.listen(22, target.handle)
    channel, _grant = await realistic.open(config=CoreConfig())
    await channel.wait_ready()
    got = bytearray()
    through = {"sink": 0, "reader": 0}
    calls = 0

    def sink(data: bytes) -> bool:
        nonlocal calls
        take = takes[calls % len(takes)]
        calls += 1
        if take:
            got.extend(data)
            through["sink"] += len(data)
        return take

    channel.deliver_to(sink)
    reader, _writer = channel.streams()

    async def read() -> None:
        while data := await reader.read(65536):
            got.extend(data)
            through["reader"] += len(data)

    reading = asyncio.create_task(read())
    try:
        async with asyncio.timeout(30):
            while len(got) < SIZE:
                await asyncio.sleep(0.01)
    finally:
        reading.cancel()
        channel.deliver_to(None)
    digest = hashlib.sha256(bytes(got[:SIZE])).hexdigest()
    assert digest == seeded_digest(target.seed, SIZE)
    return digest, through["sink"], through["reader"]


async def test_a_sink_that_keeps_up_gets_every_byte(
    realistic: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    _keep_info(caplog)
    _digest, by_sink, by_reader = await _download_through(realistic, [True])
    assert (by_sink, by_reader) == (SIZE, 0)


async def test_a_sink_that_falls_behind_leaves_the_rest_to_the_reader_in_order(
    realistic: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Byte-exact, though the sink refuses every other delivery: what the reader holds is
    read before the sink gets anything again."""
    _keep_info(caplog)
    _digest, by_sink, by_reader = await _download_through(realistic, [True, False])
    assert by_sink > 0
    assert by_reader > 0


async def test_the_read_loop_writes_a_downloads_acks_itself(
    realistic: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paced download: the writer task is not woken for the acks of each read (it was, once
    per read, before); the download stays byte-exact and every message is acked."""
    _keep_info(caplog)
    wakes = 0
    wake = WriteScheduler.wake

    def counted(self: WriteScheduler) -> None:
        nonlocal wakes
        wakes += 1
        wake(self)

    monkeypatch.setattr(WriteScheduler, "wake", counted)
    realistic.broker.agent_burst = 1
    target = BulkTarget(download=SIZE, upload=0)
    await realistic.space.listen(22, target.handle)
    channel, _grant = await realistic.open(config=CoreConfig())
    await channel.wait_ready()
    reader, _writer = channel.streams()
    got = await asyncio.wait_for(reader.readexactly(SIZE), 30)
    assert hashlib.sha256(got).hexdigest() == seeded_digest(target.seed, SIZE)
    reads = channel.stats.websocket_reads
    assert reads > 3
    assert wakes < reads / 2, (wakes, reads)
    session = next(iter(realistic.broker.sessions.values()))
    async with asyncio.timeout(10):  # the agent hears every ack
        while session.core.in_flight:
            await asyncio.sleep(0.01)
