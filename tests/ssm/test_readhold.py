"""``ReadHold``: which reads the read loop holds the next one after, and how long (bulk data
only; short at a stream's start, longer as it goes on, bounded)."""

from __future__ import annotations

import itertools

import pytest

from bridge.ssm.readhold import (
    BULK_BYTES,
    ENOUGH_MESSAGES,
    FIRST_HOLD,
    HOLD_STEP,
    PACED_RATE,
    QUIET_GAP,
    ReadHold,
)

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


def test_a_read_with_enough_or_more_waiting_is_not_held() -> None:
    reads = Reads()
    reads.read(BULK)
    assert reads.read(ENOUGH_MESSAGES * BULK, ENOUGH_MESSAGES) == 0.0
    assert reads.read(2 * BULK, 2, more=True) == 0.0  # more already buffered
    assert reads.read(2 * BULK, 2) > 0.0


def test_a_stream_faster_than_the_service_paces_is_not_held() -> None:
    """Unthrottled (or a backlog after a stall): holding would back it up past the RTO."""
    reads = Reads(step=0.001)
    reads.read(BULK)
    fast = int(PACED_RATE * 0.001) + 1  # messages in the 1 ms since the previous read
    assert reads.read(fast * BULK, fast) == 0.0
    assert reads.read(BULK, 1) > 0.0  # paced again: held


def test_a_zero_read_hold_never_holds() -> None:
    reads = Reads(most=0.0)
    assert not any(reads.read(BULK) for _ in range(5))
