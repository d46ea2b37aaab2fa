"""``ReadHold``: which reads the read loop holds the next one after, and how long (bulk data
only; short at a stream's start, longer as it goes on, bounded)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from bridge.ssm.core import CoreConfig, State
from bridge.ssm.readhold import (
    BULK_BYTES,
    DEFAULT_HOLD,
    FIRST_HOLD,
    HOLD_STEP,
    PACED_RATE,
    QUIET_GAP,
    ReadHold,
)
from bridge.ssm.readside import MAX_READ_BATCH

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


@dataclass
class Download:
    """What a simulated held download did (``_held_download``)."""

    resends: int  # messages the sender timed out and sent again
    longest: float  # the longest hold
    reads: int
    split: int  # reads that left messages for the next one (more than ``cap`` were waiting)
    reached: float  # seconds until the first hold of full length
    rto: float  # the sender's RTO after the last read


def _held_download(
    hold_most: float,
    burst: int,
    seconds: float,
    *,
    cap: int = MAX_READ_BATCH,
    late: float = 0.0,
    every: int = 5,
) -> Download:
    """A download from a sender timing every ack as the agent does (one ``SequencedCore``
    to another, virtual time), read as the read loop reads it: at most ``cap`` waiting
    messages a read (the rest at once by the next), then held for what ``ReadHold`` says.
    The sender sends ``burst`` messages every ``burst`` ms (1: the real agent; 16: the
    emulator's default). Once the holds have their full length, every ``every``-th read
    comes ``late`` seconds late (a loaded machine)."""
    config = CoreConfig(rate_limit=1000.0, rate_burst=32, pace_batch=burst)
    link = Link.pair(config)
    client, agent = link.client.core, link.agent.core
    link.run(until=5.0, stop=lambda: client.state is agent.state is State.READY)
    link.run_for(0.5)  # the handshake's last acks delivered: the link is idle
    start = now = link.now
    end, next_read = now + seconds, now
    resent_before = agent.stats.retransmissions
    hold = ReadHold(hold_most)
    holds: list[float] = []
    waiting: list[bytes] = []
    split, reached = 0, float("inf")
    while now < end:
        if agent.writable() > 1 << 19:
            agent.send(bytes(1 << 19), now)
        agent.tick(now)
        waiting += agent.frames_to_send(now)
        if waiting and now >= next_read:
            batch, waiting = waiting[:cap], waiting[cap:]
            split += bool(waiting)
            before = client.stats.bytes_received
            client.receive_batch(batch, now)
            client.events()
            for ack in client.frames_to_send(now):
                agent.receive(ack, now + 0.0002)
            delivered = client.stats.bytes_received - before
            holds.append(hold.after_read(delivered, len(batch), bool(waiting), now))
            if holds[-1] >= hold_most and reached == float("inf"):
                reached = now - start
            next_read = now + holds[-1]
            if late and reached < float("inf") and len(holds) % every == 0:
                next_read += late
        now += 0.0005
    return Download(
        agent.stats.retransmissions - resent_before,
        max(holds),
        len(holds),
        split,
        reached,
        agent.stats.rto,
    )


@pytest.mark.parametrize("burst", [1, 16])
def test_a_sender_timing_every_ack_does_not_resend_under_the_default_holds(burst: int) -> None:
    """100 ms holds reached within ~1 s, every fifth read 60 ms late: no resend. The acks of
    a read go newest first and the newest last, so the sender's RTO ends each read near
    twice the hold; newest first only, it ended 10-25 ms above it and these late reads drew
    16-64 resends at 16-message bursts (oldest first, it resent from 20 ms holds on)."""
    got = _held_download(DEFAULT_HOLD, burst, 3.0, late=0.060)
    assert got.longest == pytest.approx(DEFAULT_HOLD)
    assert got.reached < 1.2
    assert got.split == 0
    assert got.reads < 3.0 / 0.060  # held: 20 reads growing, then ~100 messages each
    assert got.rto > 1.6 * DEFAULT_HOLD
    assert got.resends == 0


def test_a_held_read_split_in_two_draws_resends() -> None:
    """Why ``MAX_READ_BATCH`` is well above what a hold gathers: at 128 (the earlier bound)
    a 150 ms hold's read was split, the second part's short waits ended the sender's samples,
    and its RTO fell under the next hold (the bench's 86 resends per 8 MiB at 150 ms)."""
    whole = _held_download(0.150, 16, 3.0)
    assert (whole.split, whole.resends) == (0, 0)
    split = _held_download(0.150, 16, 3.0, cap=128)
    assert split.split > 5
    assert split.resends > 0


def test_a_zero_read_hold_never_holds() -> None:
    reads = Reads(most=0.0)
    assert not any(reads.read(BULK) for _ in range(5))
