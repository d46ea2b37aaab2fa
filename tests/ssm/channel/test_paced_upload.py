"""A paced upload end to end: one websocket write per pacing batch, and no coalescing hold
for the wake-ups in between (a read of acks, bytes from the application while the bucket
refills), which used to cost a timer and a wake-up each."""

from __future__ import annotations

import asyncio
import selectors
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from bridge.emulator.agent import SessionGrant
from bridge.ssm.core import CoreConfig
from bridge.ssm.transport import open_channel

from .channel_helpers import BulkTarget, Harness, harness_for, write_seeded

T = TypeVar("T")
SIZE = 400 * 1024  # 400 messages: ~0.1 s at 4000 messages/s


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


class SleepCounter(selectors.DefaultSelector):
    """Counts the loop's waits that may block (a timeout other than 0): its wake-ups."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None or timeout > 0:
            self.sleeps += 1
        return super().select(timeout)


ACK_SIZE = 1200 * 1024  # ~43 batches of 28 at 4000 messages/s: ~0.3 s


class AgentThread:
    """The broker and the space on their own loop in a thread: the agent's acks then come
    back a little after each burst, as from another process, and the test's loop (its
    wake-ups counted) runs only the channel."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.target = BulkTarget(download=0, upload=ACK_SIZE)
        self._context = harness_for(tmp_path, "unthrottled")
        self.harness = self.call(self._context.__aenter__())
        self.call(self.harness.space.listen(22, self.target.handle))

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    async def grant(self) -> SessionGrant:
        return self.harness.grant()

    async def received(self) -> tuple[str, int]:
        return await asyncio.wait_for(self.target.received.get(), 30)

    def close(self) -> None:
        self.call(self._context.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _upload_counting(agent: AgentThread, selector: SleepCounter) -> tuple[int, int, Any]:
    grant = agent.call(agent.grant())
    config = CoreConfig(rate_limit=4000.0, rate_burst=32, pace_batch=28)
    channel = await open_channel(grant.stream_url, grant.token_value, config=config)
    try:
        await channel.wait_ready()
        _reader, writer = channel.streams()
        before = selector.sleeps, channel.stats.websocket_reads
        digest = await write_seeded(writer, 5, ACK_SIZE)
        received = asyncio.run_coroutine_threadsafe(agent.received(), agent.loop)
        assert await asyncio.wrap_future(received) == (digest, ACK_SIZE)
        stats = channel.stats
        return selector.sleeps - before[0], stats.websocket_reads - before[1], stats
    finally:
        await channel.close(timeout=2)


def test_a_paced_upload_reads_its_acks_on_the_pacing_tick(tmp_path: Path) -> None:
    """The agent acks each burst within a millisecond; read at once, those acks were a
    wake-up of their own between two pacing ticks (~2 sleeps of the loop per batch). Left
    unread until the next tick (``SequencedCore.ack_wait``), they are read in the same
    wake-up as the next burst, and our RTO, which sees them later, resends nothing."""
    selector = SleepCounter()
    agent = AgentThread(tmp_path)
    try:
        with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(selector)) as runner:
            sleeps, reads, stats = runner.run(_upload_counting(agent, selector))
    finally:
        agent.close()
    batches = ACK_SIZE // 1024 // 28
    assert stats.retransmissions == 0, stats
    assert stats.ack_holds >= batches // 2, stats
    assert reads <= 2 * batches, stats  # still about one read of acks per burst
    assert sleeps <= 1.4 * batches, (sleeps, batches, stats)
