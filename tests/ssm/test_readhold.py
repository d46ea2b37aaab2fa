"""``ReadHold``: which reads the read loop holds the next one after, and how long (bulk data
only; short at a stream's start, longer as it goes on, bounded)."""

from __future__ import annotations

import itertools

import pytest

from bridge.ssm.readhold import BULK_BYTES, ENOUGH_MESSAGES, FIRST_HOLD, HOLD_STEP, ReadHold

BULK = BULK_BYTES


def test_a_stream_is_held_from_its_second_bulk_read_growing_to_the_bound() -> None:
    hold = ReadHold(0.010)
    assert hold.after_read(BULK, 1, False) == 0.0  # the first: it may be a one-off
    got = [hold.after_read(BULK, 1, False) for _ in range(12)]
    assert got[0] == FIRST_HOLD
    assert got[1] == pytest.approx(FIRST_HOLD + HOLD_STEP)
    assert all(b >= a for a, b in itertools.pairwise(got))
    assert max(got) == pytest.approx(0.010)  # never longer than the channel's read_hold


def test_small_reads_acks_and_a_pause_are_never_held() -> None:
    hold = ReadHold(0.010)
    for _ in range(5):
        hold.after_read(BULK, 1, False)
    assert hold.after_read(0, 12, False) == 0.0  # acks only (an upload): not held
    assert hold.after_read(BULK, 1, False) == 0.0  # after a non-bulk read: first again
    assert hold.after_read(BULK, 1, False) == FIRST_HOLD  # and short again
    assert hold.after_read(BULK - 1, 1, False) == 0.0  # a keystroke's echo
    assert hold.after_read(60, 1, False) == 0.0


def test_a_read_with_enough_or_more_waiting_is_not_held() -> None:
    hold = ReadHold(0.010)
    hold.after_read(BULK, 1, False)
    assert hold.after_read(ENOUGH_MESSAGES * BULK, ENOUGH_MESSAGES, False) == 0.0
    assert hold.after_read(2 * BULK, 2, True) == 0.0  # more already buffered
    assert hold.after_read(2 * BULK, 2, False) > 0.0


def test_a_zero_read_hold_never_holds() -> None:
    hold = ReadHold(0.0)
    assert not any(hold.after_read(BULK, 1, False) for _ in range(5))
