"""When the read loop stops reading the websocket for a moment: the bounded read hold.

Under the service's pacing a download arrives as about one 1024-byte message per millisecond,
each in its own websocket write (the agent sleeps 1 ms after each read of its target). Read
as it comes, every message costs a loop wake-up, a socket read, a pass through the core, an ack
write and a write to the local side: ~1000 of each per MiB, and per wake-up, not per byte, is
where the daemon's CPU goes (docs/design/efficiency.md, "A bounded read hold"). Holding the
socket unread for a few milliseconds while data streams lets the kernel gather the next
messages, so one read and one pass cover several.

The hold is only for bulk data: a read counts when it delivered at least ``BULK_BYTES`` of
application data (the agent fills a 1024-byte message only when its read of the target found
that much waiting), and the hold starts only on the second such read in a row, so a keystroke's
echo, an ack-only read during an upload, or the first message after a pause is never held. A
read that already brought ``ENOUGH_MESSAGES`` or more (the emulator's bursts, an unthrottled
stream) gains nothing from waiting and is not held either.

The hold delays our acks by up to its length, and the sender reads that as round-trip time:
its RTT estimate rises towards half the hold and its RTO (RTT + max(10 ms, 4 RTTVAR), at least
~10 ms above the RTT in the agent and the plugin: docs/design/ssm-protocol.md §5) stays above
the longest sample as long as the hold stays well under that 10 ms floor; hence ``DEFAULT_HOLD``.
A hold past the sender's RTO would make it resend messages that were only waiting in our
kernel buffer.
"""

from __future__ import annotations

__all__ = ["BULK_BYTES", "DEFAULT_HOLD", "ENOUGH_MESSAGES", "ReadHold"]

DEFAULT_HOLD = 0.006
"""Seconds reading pauses after a bulk read: ~6 messages gathered at the service's pacing, and
4 ms under the senders' 10 ms RTO floor (``ChannelOptions.read_hold``; 0 turns holding off)."""

BULK_BYTES = 1024
"""Application bytes one read must deliver to count as bulk: one full agent message."""

ENOUGH_MESSAGES = 16
"""A read that brought this many messages is not held: the wake-up is already shared."""


class ReadHold:
    """The read loop's decision, read by read, of whether to hold the next one."""

    __slots__ = ("_streaming", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._streaming = False  # the previous read was bulk

    def after_read(self, delivered: int, messages: int, more_waiting: bool) -> bool:
        """Whether to hold now, after a read that brought ``messages`` messages carrying
        ``delivered`` bytes of in-order application data; ``more_waiting`` when messages are
        already buffered for the next read (nothing to gather)."""
        bulk = delivered >= BULK_BYTES
        streaming, self._streaming = self._streaming and bulk, bulk
        return streaming and self.seconds > 0 and messages < ENOUGH_MESSAGES and not more_waiting
