"""``--lanes auto``: add lanes while each added lane still raises the total rate by at least
half a lane's worth (the issue's rule), up to ``AUTO_LANES``; a refused session ends the growth.

The decision is a pure function of the measured history, so it is tested without sessions; the
daemon measures (bytes over its lanes' channels per window) and opens the lanes.
"""

from __future__ import annotations

__all__ = ["AUTO_LANES", "START_LANES", "WINDOW", "keep_growing"]

AUTO_LANES = 8  # the most ``auto`` opens (``--lanes N`` goes to 16)
START_LANES = 2  # what ``auto`` starts with
WINDOW = 1.5  # seconds of traffic measured per step
MIN_GAIN = 0.5  # of one lane's share: what an added lane must add to the total


def keep_growing(history: list[tuple[int, float]]) -> bool:
    """``history``: (lanes, total bytes/s) measured one window each, oldest first. Grow while
    the last added lanes raised the total by at least ``MIN_GAIN`` of a lane's share each."""
    if not history or history[-1][0] >= AUTO_LANES:
        return False
    if len(history) < 2:
        return True
    (before, rate_before), (after, rate_after) = history[-2], history[-1]
    if after <= before or rate_before <= 0:
        return rate_after > 0
    share = rate_before / before
    return rate_after - rate_before >= MIN_GAIN * share * (after - before)
