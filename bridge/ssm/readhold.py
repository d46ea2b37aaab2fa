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
echo, an ack-only read during an upload, or the first message after a pause is never held
(reads that carry only acks, such as the acks of ssh's window adjusts during a download,
neither hold nor end a stream). A read that already brought ``ENOUGH_MESSAGES`` or more, or
came faster than ``PACED_RATE`` (an unthrottled stream, not paced by the service), gains little
from waiting and is not held either.

The hold delays our acks by up to its length, and the sender reads that as round-trip time.
Its RTO is RTT + max(10 ms, 4 RTTVAR) in the agent and the plugin (docs/design/ssm-protocol.md
§5): at least 10 ms above its smoothed RTT, which sits near 1 ms on a quiet stream. So the first
hold of a stream is short (``FIRST_HOLD``), each next one ``HOLD_STEP`` longer, up to the
channel's ``read_hold`` (``DEFAULT_HOLD``): by then the sender's samples, spread between ~0 and
the hold, have raised its RTT estimate to about half the hold and its RTO to about 1.5 times
it, above the longest sample. A hold past the sender's RTO would make it resend messages that
were only waiting in our kernel buffer (the agent checks the oldest unacked message every
100 ms; our emulator's core checks every message, so it shows such resends first:
``scripts/bench_ssh.py`` reports them as ``agent_resends``).
"""

from __future__ import annotations

__all__ = [
    "BULK_BYTES",
    "DEFAULT_HOLD",
    "ENOUGH_MESSAGES",
    "FIRST_HOLD",
    "HOLD_STEP",
    "PACED_RATE",
    "QUIET_GAP",
    "ReadHold",
]

DEFAULT_HOLD = 0.020
"""Seconds, at most, that reading pauses after a bulk read: ~20 messages gathered at the
service's pacing, ~2 of the emulator's default bursts (``ChannelOptions.read_hold``; 0 turns
holding off). Reached only after 16 growing holds; measured against 10 and 12 ms
(docs/design/efficiency.md, "A bounded read hold"): a third less CPU per MiB downloading, and
resends from the emulator's agent within the spread of runs without a hold (0-26 per 8 MiB
each way, on this loaded machine)."""

FIRST_HOLD = 0.004
"""The first hold of a stream: 6 ms under the senders' RTO floor (their RTT + 10 ms)."""

HOLD_STEP = 0.001
"""How much longer each next hold of the same stream is: the sender's RTT estimate (a 1/8
moving average over every ack, ~10 per hold) follows within a hold or two."""

PACED_RATE = 2000.0
"""Messages per second, at most, that a held stream may arrive at: twice the service's ceiling.
A faster one (unthrottled, or a backlog after a stall) is not paced by the service: holding it
would only back it up in the kernel's buffers past the sender's RTO (measured: an unthrottled
download held lost a fifth of its rate and drew ~2300 resends per 16 MiB)."""

QUIET_GAP = 3
"""Data after more than this many longest holds without any: a new stream (a command's output
after idle), whose first bulk read is not held and whose holds start short again."""

BULK_BYTES = 1024
"""Application bytes one read must deliver to count as bulk: one full agent message."""

ENOUGH_MESSAGES = 32
"""A read that brought this many messages is not held: the wake-up is already shared well (two
of the emulator's default bursts of 16). With 16, 20 ms holds stopped paying: a read of ~20
messages at the service's pacing was then not held, and the next one was small again."""


class ReadHold:
    """The read loop's decision, read by read, of whether and how long to hold the next one."""

    __slots__ = ("_last", "_next", "most")

    def __init__(self, most: float) -> None:
        self.most = most
        self._next = 0.0  # the next hold's length; 0 until the previous data read was bulk
        self._last = float("-inf")  # when the last read that carried data came

    def after_read(self, delivered: int, messages: int, more_waiting: bool, now: float) -> float:
        """Seconds to hold now (0: none), after a read at ``now`` that brought ``messages``
        messages carrying ``delivered`` bytes of in-order application data; ``more_waiting``
        when messages are already buffered for the next read (nothing to gather).

        A read without data (the sender's acks of what we send, e.g. ssh's window adjusts
        during a download) neither holds nor ends a stream; a small data read, or data after
        a gap of ``QUIET_GAP`` holds, starts over short."""
        if not delivered or self.most <= 0:
            return 0.0
        gap, self._last = now - self._last, now
        if delivered < BULK_BYTES:
            self._next = 0.0  # not streaming (any more): the next stream starts short
            return 0.0
        hold = 0.0 if gap > QUIET_GAP * self.most else self._next  # this one may start one
        self._next = min(self.most, hold + HOLD_STEP if hold else FIRST_HOLD)
        if messages >= ENOUGH_MESSAGES or more_waiting or messages > PACED_RATE * gap:
            return 0.0
        return hold
