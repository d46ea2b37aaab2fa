"""When the read loop stops reading the websocket for a moment: the bounded read hold.

Under the service's pacing a download arrives as about one 1024-byte message per millisecond,
each in its own websocket write (the agent sleeps 1 ms after each read of its target). Read
as it comes, every message costs a loop wake-up, a socket read, a pass through the core, an ack
write and a write to the local side: ~1000 of each per MiB, and per wake-up, not per byte, is
where the daemon's CPU goes (docs/design/efficiency.md, "A bounded read hold" and "Fewer,
larger reads"). Holding the socket unread for a while as data streams lets the kernel gather
the next messages, so one read and one pass cover several dozen.

The hold is only for bulk data: a read counts when it delivered at least ``BULK_BYTES`` of
application data (the agent fills a 1024-byte message only when its read of the target found
that much waiting), and the hold starts only on the second such read in a row, so a keystroke's
echo, an ack-only read during an upload, or the first message after a pause is never held
(reads that carry only acks, such as the acks of ssh's window adjusts during a download,
neither hold nor end a stream). A stream that arrives faster than ``PACED_RATE`` (unthrottled,
not paced by the service), judged by its rate averaged over its last few reads
(``RATE_MEMORY``) so that one late or early read does not decide, or a read that left messages
waiting for the next one, gains nothing from waiting and is not held. How many messages a read
brought does not matter: a paced stream is held whatever it brings.

The hold delays our acks by up to its length, and the sender reads that as round-trip time.
Its RTO is RTT + max(10 ms, 4 RTTVAR) in the agent and the plugin (docs/design/ssm-protocol.md
§5), a smoothed RTT and RTTVAR fed one sample per ack, in the order the acks come. After a hold
the oldest message of the read has waited the whole hold and the newest hardly at all, so the
core acks a read's messages newest first but for the newest itself, which goes last
(``SequencedCore.receive_batch``, ``sequenced.order_acks``): the sender's RTT estimate climbs to
near the hold over the read's acks, and the last sample, ~0, adds a quarter of the hold to its
RTTVAR, so its RTO ends each read near **twice the hold** (RTT ≈ ⅞ hold, 4 RTTVAR ≈ the hold
plus the lag of the climb). The next read's oldest message waits one hold (the last read took
everything), so a read may come late by about a hold before the sender's RTO passes: ~100 ms at
the default hold, where a busy machine's late reads are a few to a few tens of ms. With the
acks newest first only, the RTO ended ~10-25 ms above the hold (the 10 ms floor plus the
climb's lag) whatever the hold, and a read late by more drew resends; oldest first it fell back
to ~10 ms after every read (docs/design/efficiency.md, "Holds of 100 ms"; a simulated sender:
tests/ssm/test_readhold.py). A read must take every message the hold gathered: split in two,
the second part's acks (the shortest waits) end the sender's samples low, its RTO falls to a
few tens of ms and the next hold crosses it (``readside.MAX_READ_BATCH`` is well above what a
hold gathers at the service's pacing). A stream's first hold is short (``FIRST_HOLD``, 6 ms
under the RTO floor of a quiet sender); each next one is ``HOLD_STEP`` longer, up to the
channel's ``read_hold`` (``DEFAULT_HOLD``): a hold 5 ms longer than the last stays inside the
RTO (about twice the last wait, at least the last wait + 10 ms) that the last read's acks left
the sender. A hold past the sender's RTO would make it resend messages that were only waiting
in our kernel buffer (the agent checks the oldest unacked message every 100 ms; our emulator's
core checks every message, so it shows such resends first: ``scripts/bench_ssh.py`` reports
them as ``agent_resends``). The hold costs latency only at the tail of a bulk stream (its last
messages wait up to ``read_hold``); a keystroke's echo is never held.
``SMCONNECT_READ_HOLD_MS=0`` (``read_hold=0``) turns it off.
"""

from __future__ import annotations

__all__ = [
    "BULK_BYTES",
    "DEFAULT_HOLD",
    "FIRST_HOLD",
    "HOLD_STEP",
    "PACED_RATE",
    "QUIET_GAP",
    "RATE_MEMORY",
    "ReadHold",
]

DEFAULT_HOLD = 0.100
"""Seconds, at most, that reading pauses after a bulk read: ~100 messages gathered at the
service's pacing, ~6 of the emulator's default bursts (``ChannelOptions.read_hold``; 0 turns
holding off). Measured against 50 and 150 ms (docs/design/efficiency.md, "Holds of 100 ms")."""

FIRST_HOLD = 0.004
"""The first hold of a stream: 6 ms under the senders' RTO floor (their RTT + 10 ms)."""

HOLD_STEP = 0.005
"""How much longer each next hold of the same stream is: 4 ms to 100 ms in 20 reads (~1 s of
a download at the service's pacing; at 2 ms a step it took ~2.5 s)."""

PACED_RATE = 2000.0
"""Messages per second, at most, that a held stream may arrive at, averaged over its recent
reads: twice the service's ceiling. A faster one (unthrottled, or a long backlog) is not paced
by the service: holding it would only back it up in the kernel's buffers past the sender's RTO
(measured: an unthrottled download held lost a fifth of its rate and drew ~2300 resends per
16 MiB)."""

RATE_MEMORY = 0.75
"""The weight of a stream's earlier reads in its averaged rate (messages and seconds each
decay by this much per read): about the last four reads count, so a read that came early after
a stall, or late after a scheduling hiccup, neither arms nor disarms the hold alone."""

QUIET_GAP = 3
"""Data after more than this many longest holds without any: a new stream (a command's output
after idle), whose first bulk read is not held and whose holds start short again."""

BULK_BYTES = 1024
"""Application bytes one read must deliver to count as bulk: one full agent message."""


class ReadHold:
    """The read loop's decision, read by read, of whether and how long to hold the next one."""

    __slots__ = ("_last", "_messages", "_next", "_seconds", "most")

    def __init__(self, most: float) -> None:
        self.most = most
        self._next = 0.0  # the next hold's length; 0 until the previous data read was bulk
        self._last = float("-inf")  # when the last read that carried data came
        self._messages = 0.0  # the stream's recent messages and the seconds they took,
        self._seconds = 0.0  # each decayed by RATE_MEMORY per read: its averaged rate

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
        if gap > QUIET_GAP * self.most:  # a new stream: its first read is not held
            hold = self._messages = self._seconds = 0.0
        else:
            hold = self._next
            self._messages = self._messages * RATE_MEMORY + messages
            self._seconds = self._seconds * RATE_MEMORY + gap
        self._next = min(self.most, hold + HOLD_STEP if hold else FIRST_HOLD)
        if more_waiting or self._messages > PACED_RATE * self._seconds:
            return 0.0
        return hold
