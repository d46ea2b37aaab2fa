"""The service's input ceiling: ~1000 messages per second from the client.

[3P] The real service sends ``pause_publication`` to a client above about 1000 messages/s
(docs/design/ssm-protocol.md §5). Which messages count is not documented: we count only
``input_stream_data`` (acks excluded) [I]; counting acks too is a one-line change in
``counts()``.
"""

from __future__ import annotations

from collections import deque

from bridge.ssm.codec import MessageType

__all__ = ["InputRateMeter"]

_COUNTED = MessageType.INPUT_STREAM_DATA.encode()


class InputRateMeter:
    """Sliding one-second window of counted client messages, with pause/resume hysteresis."""

    def __init__(self, limit: int = 1000, window: float = 1.0, resume_below: int = 500) -> None:
        self.limit = limit
        self.window = window
        self.resume_below = resume_below
        self._arrivals: deque[float] = deque()
        self.paused = False

    @staticmethod
    def counts(frame: bytes) -> bool:
        return frame[4:36].rstrip(b" \x00") == _COUNTED

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        arrivals = self._arrivals
        while arrivals and arrivals[0] <= horizon:
            arrivals.popleft()

    def record(self, now: float) -> bool:
        """Count one message; True when the client just went over the limit (send a pause)."""
        self._expire(now)
        self._arrivals.append(now)
        if not self.paused and len(self._arrivals) > self.limit:
            self.paused = True
            return True
        return False

    def calmed(self, now: float) -> bool:
        """True once, when a paused client's rate fell below ``resume_below`` (send a start)."""
        self._expire(now)
        if self.paused and len(self._arrivals) < self.resume_below:
            self.paused = False
            return True
        return False
