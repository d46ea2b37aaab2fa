"""``ReadHold``: which reads the read loop holds the next one after (bulk data only)."""

from __future__ import annotations

from bridge.ssm.readhold import BULK_BYTES, ENOUGH_MESSAGES, ReadHold


def test_the_second_bulk_read_in_a_row_is_held() -> None:
    hold = ReadHold(0.006)
    assert not hold.after_read(BULK_BYTES, 1, False)  # the first: it may be a one-off
    assert hold.after_read(BULK_BYTES, 1, False)
    assert hold.after_read(4 * BULK_BYTES, 4, False)


def test_small_reads_acks_and_a_pause_are_never_held() -> None:
    hold = ReadHold(0.006)
    assert not hold.after_read(BULK_BYTES, 1, False)
    assert not hold.after_read(0, 12, False)  # acks only (an upload): not held
    assert not hold.after_read(BULK_BYTES, 1, False)  # after a non-bulk read: first again
    assert not hold.after_read(BULK_BYTES - 1, 1, False)  # a keystroke's echo
    assert not hold.after_read(60, 1, False)


def test_a_read_with_enough_or_more_waiting_is_not_held() -> None:
    hold = ReadHold(0.006)
    hold.after_read(BULK_BYTES, 1, False)
    assert not hold.after_read(ENOUGH_MESSAGES * BULK_BYTES, ENOUGH_MESSAGES, False)
    assert not hold.after_read(2 * BULK_BYTES, 2, True)  # more already buffered
    assert hold.after_read(2 * BULK_BYTES, 2, False)


def test_a_zero_hold_never_holds() -> None:
    hold = ReadHold(0.0)
    assert not any(hold.after_read(BULK_BYTES, 1, False) for _ in range(5))
