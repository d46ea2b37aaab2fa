"""A token bucket that keeps data messages under the service's ~1000 messages/s ceiling.

The plugin and the agent pace by sleeping 1 ms after every read, which also caps them when the
link is idle-fast; a bucket lets a burst through and then holds the long-run rate, which is
what the service actually measures (docs/design/ssm-protocol.md §7).

Under a backlog the sender asks for ``want`` tokens, not one: sending one message per token
meant one timer, one wake-up and one socket write per message (~1000/s on each end). Waiting
for a batch of tokens sends the same messages at the same long-run rate in a handful of
wake-ups per second; a single message (a keystroke) still goes as soon as one token is there.
"""

from __future__ import annotations

_EPSILON = 1e-9  # float slack, so that waking exactly at ready_at() always finds a token


class TokenBucket:
    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float | None, burst: int, now: float) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (or None for unthrottled)")
        self._rate = rate
        self._burst = float(max(1, burst))
        self._tokens = self._burst
        self._at = now

    def _refill(self, now: float) -> None:
        if self._rate is not None and now > self._at:
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = max(self._at, now)

    def ready(self, now: float, want: int = 1) -> bool:
        """Whether ``want`` messages (at most the burst) may go out at ``now``."""
        if self._rate is None:
            return True
        self._refill(now)
        return self._tokens >= min(want, self._burst) - _EPSILON

    def take(self, count: int = 1) -> None:
        if self._rate is not None:
            self._tokens -= count

    def allowance(self, now: float, most: int) -> int:
        """How many messages (at most ``most``) may go out at ``now``, to ``take`` at once."""
        if self._rate is None:
            return most
        self._refill(now)
        return min(most, int(self._tokens + _EPSILON))

    def ready_at(self, want: int = 1) -> float:
        """The earliest time ``want`` messages (at most the burst) may go out (in the past
        when they may go now)."""
        need = min(want, self._burst)
        if self._rate is None or self._tokens >= need - _EPSILON:
            return self._at
        return self._at + (need - self._tokens) / self._rate
