"""The sending side's bookkeeping records: a message until its ack, bytes until framed, and the
retransmission timers (one entry per send, in send order, checked lazily).

Kept apart from ``sequenced`` so that the core reads as protocol rules; these are plain data
structures with no protocol knowledge beyond "an entry is live until acked or resent".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["Outgoing", "Pending", "SendTimers"]


@dataclass(slots=True)
class Outgoing:
    """One framed data message until its ack. The frame bytes are resent unchanged."""

    seq: int
    frame: bytes
    first_sent: float = -1.0
    last_sent: float = -1.0
    sends: int = 0
    queued: bool = False  # waiting in a transmit queue (so its old timer entry is stale)


@dataclass(slots=True)
class Pending:
    """Bytes accepted by send() (or a flag) and not framed yet."""

    payload_type: int
    data: bytearray


class SendTimers:
    """(send time, seq) per send, oldest first. An entry is stale once its message is acked,
    queued for a resend, or sent again since; stale entries are dropped when they reach the
    head, so an ack costs nothing here."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: deque[tuple[float, int]] = deque()

    def clear(self) -> None:
        self._entries.clear()

    def started(self, sent: float, seq: int) -> None:
        self._entries.append((sent, seq))

    def head(self, unacked: dict[int, Outgoing]) -> float | None:
        """The send time of the oldest live timer."""
        entries = self._entries
        while entries:
            sent, seq = entries[0]
            entry = unacked.get(seq)
            if entry is None or entry.queued or entry.last_sent != sent:
                entries.popleft()
                continue
            return sent
        return None

    def expire(self, unacked: dict[int, Outgoing], rto: float, now: float) -> list[int]:
        """Pop the live timers that ran out (sent ``rto`` or longer before ``now``); their seqs."""
        expired: list[int] = []
        entries = self._entries
        while (sent := self.head(unacked)) is not None and sent + rto <= now:
            expired.append(entries.popleft()[1])
        return expired
