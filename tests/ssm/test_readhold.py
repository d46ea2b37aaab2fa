"""``ReadHold``: which reads the read loop holds the next one after, and how long (bulk data
only; short at a stream's start, longer as it goes on, bounded)."""

from __future__ import annotations

import itertools

import pytest

from bridge.ssm.core import CoreConfig, State
from bridge.ssm.readhold import (
    BULK_BYTES,
    FIRST_HOLD,
    HOLD_STEP,
    PACED_RATE,
    QUIET_GAP,
    ReadHold,
)

from .ssmcore_link import Link

BULK = BULK_BYTES
MOST = 0.010


class Reads:
    """A ReadHold fed reads on an injected clock, ``step`` seconds apart."""

    def __init__(self, most: float = MOST, step: float = 0.005) -> None:
        self.hold = ReadHold(most)
        self.now = 100.0
        self.step = step

    def read(self, delivered: int, messages: int = 1, more: bool = False) -> float:
        self.now += self.step
        return self.hold.after_read(delivered, messages, more, self.now)


def test_a_stream_is_held_from_its_second_bulk_read_growing_to_the_bound() -> None:
    reads = Reads()
    assert reads.read(BULK) == 0.0  # the first: it may be a one-off
    got = [reads.read(BULK) for _ in range(12)]
    assert got[0] == FIRST_HOLD
    assert got[1] == pytest.approx(FIRST_HOLD + HOLD_STEP)
    assert all(b >= a for a, b in itertools.pairwise(got))
    assert max(got) == pytest.approx(MOST)  # never longer than the channel's read_hold


def test_small_reads_and_a_pause_are_never_held_and_start_over() -> None:
    reads = Reads()
    for _ in range(8):
        reads.read(BULK)
    assert reads.read(BULK - 1) == 0.0  # a keystroke's echo
    assert reads.read(BULK) == 0.0  # after a small data read: first again
    assert reads.read(BULK) == FIRST_HOLD  # and short again
    for _ in range(8):
        reads.read(BULK)
    reads.now += QUIET_GAP * MOST + 0.001  # quiet, then a command's output
    assert reads.read(BULK) == 0.0
    assert reads.read(BULK) == FIRST_HOLD


def test_reads_of_acks_only_neither_hold_nor_end_a_stream() -> None:
    reads = Reads()
    for _ in range(8):
        reads.read(BULK)
    longest = reads.read(BULK)
    assert longest > FIRST_HOLD
    assert reads.read(0, 12) == 0.0  # acks only (of ssh's window adjusts, or an upload)
    assert reads.read(BULK) >= longest


def test_a_paced_read_is_held_however_many_messages_it_brought() -> None:
    """Reads of 32 or more messages were never held: under a 50 ms hold a paced stream's
    reads bring ~50, and holding only every other one halved what the hold gained."""
    reads = Reads(most=0.050, step=0.040)
    reads.read(BULK)
    assert reads.read(40 * BULK, 40) > 0.0  # 1000 messages/s: paced
    assert reads.read(2 * BULK, 2, more=True) == 0.0  # more already buffered: nothing to gather
    assert reads.read(40 * BULK, 40) > 0.0


def test_a_stream_faster_than_the_service_paces_is_not_held() -> None:
    """Unthrottled (or a long backlog): holding would back it up past the RTO."""
    reads = Reads(step=0.001)
    reads.read(BULK)
    fast = int(PACED_RATE * 0.001) + 1  # messages in the 1 ms since the previous read
    assert not any(reads.read(fast * BULK, fast) for _ in range(6))


def test_one_early_or_late_read_does_not_decide_whether_a_stream_is_paced() -> None:
    """The rate is averaged over the last few reads: a paced stream's read that comes early
    (the messages a stall held back) is still held, and one slow read in an unthrottled
    stream does not arm the hold."""
    paced = Reads(most=0.050, step=0.020)
    for _ in range(6):
        paced.read(20 * BULK, 20)  # 1000 messages/s
    paced.step = 0.002
    assert paced.read(20 * BULK, 20) > 0.0  # 10 000/s for this one read only
    fast = Reads(most=0.050, step=0.002)
    for _ in range(6):
        fast.read(20 * BULK, 20)  # 10 000 messages/s
    fast.step = 0.012
    assert fast.read(20 * BULK, 20) == 0.0  # 1667/s for this one read only


def _held_download(hold_most: float, burst: int, seconds: float) -> tuple[int, float, int]:
    """A download from a sender timing every ack as the agent does (one ``SequencedCore``
    to another, virtual time), read as the read loop reads it: whatever waits, then held
    for what ``ReadHold`` says. The sender sends ``burst`` messages every ``burst`` ms (1:
    the real agent; 16: the emulator's default). (resends, the longest hold, reads)."""
    config = CoreConfig(rate_limit=1000.0, rate_burst=burst, pace_batch=burst)
    link = Link.pair(config)
    client, agent = link.client.core, link.agent.core
    link.run(until=5.0, stop=lambda: client.state is agent.state is State.READY)
    link.run_for(0.5)  # the handshake's last acks delivered: the link is idle
    now, end, next_read = link.now, link.now + seconds, link.now
    resent_before = agent.stats.retransmissions
    hold = ReadHold(hold_most)
    holds: list[float] = []
    waiting: list[bytes] = []
    while now < end:
        if agent.writable() > 1 << 19:
            agent.send(bytes(1 << 19), now)
        agent.tick(now)
        waiting += agent.frames_to_send(now)
        if waiting and now >= next_read:
            before = client.stats.bytes_received
            client.receive_batch(waiting, now)
            client.events()
            for ack in client.frames_to_send(now):
                agent.receive(ack, now + 0.0002)
            delivered = client.stats.bytes_received - before
            holds.append(hold.after_read(delivered, len(waiting), False, now))
            next_read = now + holds[-1]
            waiting = []
        now += 0.0005
    return agent.stats.retransmissions - resent_before, max(holds), len(holds)


@pytest.mark.parametrize("burst", [1, 16])
def test_a_sender_timing_every_ack_does_not_resend_under_long_holds(burst: int) -> None:
    """50 ms holds, acks of a read newest first: the sender's RTO stays above every wait.
    Oldest first (as before) it resent dozens to hundreds of messages in these 3 s."""
    resent, longest, reads = _held_download(0.050, burst, 3.0)
    assert longest == pytest.approx(0.050)
    assert reads < 3.0 / 0.030  # held: most reads gathered 40-50 messages
    assert resent == 0


def test_a_zero_read_hold_never_holds() -> None:
    reads = Reads(most=0.0)
    assert not any(reads.read(BULK) for _ in range(5))
