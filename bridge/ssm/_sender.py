"""The sending half of the data channel's core: application bytes in, paced frames out, acks
applied, the send window and the retransmission queue.

``SequencedCore`` (sequenced.py) is the core; this mixin is its send side, kept in its own
module so that each half reads on its own (the receive side, the handshake and the states stay
in ``sequenced``). It owns no state: ``SequencedCore.__init__`` sets every attribute declared
below, and the drains stay pure (only ``tick()``, in ``sequenced``, runs timers).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import ClassVar

from bridge.ssm import _wire
from bridge.ssm._pacing import TokenBucket
from bridge.ssm._rto import RtoEstimator
from bridge.ssm._sendq import Outgoing, Pending, SendTimers
from bridge.ssm.codec import Flag, PayloadType, flag_payload
from bridge.ssm.core import ChannelStats, CoreConfig, State
from bridge.ssm.errors import ChannelClosedError

__all__ = ["ENDING", "TERMINAL", "SendSide"]

TERMINAL = frozenset({State.CLOSED, State.FAILED})
ENDING = TERMINAL | {State.DRAINING}  # nothing more is accepted or resent


class SendSide:
    """The send half of ``SequencedCore`` (see the module docstring)."""

    _FIRST_FLAGS: ClassVar[int] = 0  # flags of sequence number 0
    _cfg: CoreConfig
    _state: State
    _stats: ChannelStats
    _now: float
    _epoch_offset: float
    _wire_ids: _wire.WireIds
    _out_type_field: bytes
    _connected: bool
    _paused: bool
    _next_seq: int
    _unacked: dict[int, Outgoing]  # insertion order == sequence order
    _oldest_unacked: int
    _tx: deque[int]
    _retx: deque[int]
    _timers: SendTimers
    _pending: deque[Pending]
    _pending_bytes: int
    _control: deque[bytes]
    _rto: RtoEstimator
    _bucket: TokenBucket

    @property
    def queued_bytes(self) -> int:
        """Application bytes accepted by ``send()`` and not yet framed (pacing, window)."""
        return self._pending_bytes

    @property
    def in_flight(self) -> int:
        """Data messages sent (or framed) and not acknowledged yet."""
        return len(self._unacked)

    def send(self, data: bytes, now: float, payload_type: int = PayloadType.OUTPUT) -> int:
        """Queue application bytes; returns how many were accepted (0..len) under back-pressure.

        Bytes sent before READY are held and go out once the session is ready. Raises
        ChannelClosedError once the channel is CLOSED or FAILED (nothing would ever leave);
        while DRAINING it takes nothing (0), as a socket whose peer has closed.
        """
        self._check_open()
        self._now = now
        accepted = min(len(data), self.writable())
        if accepted <= 0:
            return 0
        chunk = data[:accepted] if accepted < len(data) else data
        tail = self._pending[-1] if self._pending else None
        if (
            payload_type == PayloadType.OUTPUT
            and tail is not None
            and tail.payload_type == PayloadType.OUTPUT
        ):
            tail.data += chunk  # coalesce small writes into full 1024-byte messages
        else:
            self._pending.append(Pending(int(payload_type), bytearray(chunk)))
        self._pending_bytes += accepted
        return accepted

    def send_flag(self, flag: Flag, now: float) -> None:
        """Queue a Flag message in order with the data (it is never refused by back-pressure)."""
        self._check_open()
        self._now = now
        if self._state is State.DRAINING:
            return
        self._pending.append(Pending(PayloadType.FLAG, bytearray(flag_payload(flag))))
        self._pending_bytes += 4

    def writable(self) -> int:
        """How many bytes ``send()`` would accept now."""
        if self._state in ENDING:
            return 0
        return max(0, self._cfg.send_buffer - self._pending_bytes)

    def all_acknowledged(self) -> bool:
        """Nothing queued and nothing in flight (for a clean close)."""
        return not self._pending and not self._unacked

    def frames_to_send(self, now: float) -> list[bytes]:
        """Drain the binary frames that may go out now (acks at once, data within pacing).

        Pure output: it runs no timers, so a retransmission or a handshake timeout waits for
        the caller's ``tick()`` (the ``CoreDriver`` calls it when ``next_deadline()`` passes).
        """
        if not self._connected:
            return []
        out = list(self._control)
        self._control.clear()
        if self._paused or self._state is State.CLOSED:
            return out
        bucket = self._bucket
        timers = self._timers
        if not bucket.ready(now, self._pace_want()):
            return out
        while bucket.ready(now):
            entry = self._next_to_transmit()
            if entry is None:
                break
            bucket.take()
            entry.sends += 1
            if entry.sends == 1:
                entry.first_sent = now
            else:
                self._stats.retransmissions += 1
            entry.last_sent = now
            entry.queued = False
            timers.started(now, entry.seq)
            out.append(entry.frame)
        if self._state is State.READY and self._pending:
            count = bucket.allowance(now, self._window_room())
            if count > 0:  # one token per message framed, not per message allowed
                bucket.take(self._send_pending(now, count, out))
        return out

    def has_output(self, now: float) -> bool:
        """Whether ``frames_to_send(now)`` would return anything: a control frame, or a data
        message the pacing lets go now. Pure, like the drains. The writer skips its pass (and
        its coalescing hold) without one: woken by a read of acks or by bytes from the
        application while the bucket refills, it has nothing to write until the driver's
        pacing timer fires."""
        if not self._connected:
            return False
        if self._control:
            return True
        if self._paused or self._state is State.CLOSED or not self._has_transmit_work():
            return False
        return self._bucket.ready(now, self._pace_want())

    def _on_acks(self, sequences: Sequence[int], now: float) -> None:
        """Apply the acks of one read, in order. The RTT samples are those of one ack at a
        time, but a batch's messages went out in one write (one ``first_sent``) and their acks
        came in one read: a run of equal samples is fed at once (``RtoEstimator.sample``'s
        ``count``), with the same result as one by one."""
        unacked, rto = self._unacked, self._rto
        sent_at, run, unmatched = 0.0, 0, 0
        for sequence in sequences:
            entry = unacked.pop(sequence, None)
            if entry is None:
                unmatched += 1
            elif entry.sends == 1:  # Karn: an ack of a resent message cannot be timed
                if run and entry.first_sent != sent_at:
                    rto.sample(now - sent_at, run)
                    run = 0
                sent_at = entry.first_sent
                run += 1
        if run:
            rto.sample(now - sent_at, run)
            self._stats.rtt = rto.rtt
            self._stats.rto = rto.current
        if unmatched:
            extra = self._stats.extra
            extra["acks_unmatched"] = extra.get("acks_unmatched", 0) + unmatched

    def _check_open(self) -> None:
        if self._state in TERMINAL:
            raise ChannelClosedError(f"the data channel is {self._state.value}")

    def _created_ms(self, now: float) -> int:
        return max(1, int((now + self._epoch_offset) * 1000))

    def _frame(self, payload_type: int, payload: bytes, now: float) -> Outgoing:
        seq = self._next_seq
        self._next_seq = seq + 1
        frame = _wire.pack(
            self._out_type_field,
            self._created_ms(now),
            seq,
            self._FIRST_FLAGS if seq == 0 else 0,
            self._wire_ids(),
            payload_type,
            payload,
        )
        entry = Outgoing(seq, frame)
        self._unacked[seq] = entry
        self._stats.messages_sent += 1
        return entry

    def _queue_control_message(self, payload_type: int, payload: bytes, now: float) -> None:
        """Frame a handshake message at once: it bypasses the hold-until-READY data queue."""
        entry = self._frame(payload_type, payload, now)
        entry.queued = True
        self._tx.append(entry.seq)

    def _next_to_transmit(self) -> Outgoing | None:
        """The next framed message waiting to go: a resend, then a handshake message."""
        unacked = self._unacked
        for queue in (self._retx, self._tx):
            while queue:
                entry = unacked.get(queue.popleft())
                if entry is not None and entry.queued:
                    return entry
        return None

    def _send_pending(self, now: float, count: int, out: list[bytes]) -> int:
        """Frame up to ``count`` messages from the held bytes and send them now, at the moment
        they are first sent (so the unframed backlog, not the in-flight list, is what
        back-pressure measures); returns how many. Their 48-byte header start is packed once
        for the batch."""
        head = _wire.fixed_head(self._out_type_field, self._created_ms(now))
        pack_after, wire_ids = _wire.pack_after, self._wire_ids
        pending, limit = self._pending, self._cfg.max_payload
        unacked, started, stats = self._unacked, self._timers.started, self._stats
        seq = self._next_seq
        framed = payload_bytes = taken = 0
        while pending and framed < count:
            item = pending[0]
            data = item.data
            if len(data) > limit:
                chunk = data[:limit]  # a copy already: framing copies it once more, no third
                del data[:limit]
            else:
                chunk = data
                pending.popleft()
            size = len(chunk)
            taken += size
            kind = item.payload_type
            if kind != PayloadType.FLAG:
                payload_bytes += size
            flags = self._FIRST_FLAGS if seq == 0 else 0
            frame = pack_after(head, seq, flags, wire_ids(), kind, chunk)
            unacked[seq] = Outgoing(seq, frame, now, now, 1)
            started(now, seq)
            out.append(frame)
            seq += 1
            framed += 1
        self._pending_bytes -= taken
        self._next_seq = seq
        stats.messages_sent += framed
        stats.bytes_sent += payload_bytes
        return framed

    def _pace_want(self) -> int:
        """How many tokens to wait for before sending: the messages ready to go, at most
        ``pace_batch`` (one for a keystroke; a batch per wake-up under a backlog)."""
        cfg = self._cfg
        want = len(self._retx) + len(self._tx)
        if want < cfg.pace_batch and self._state is State.READY and self._pending:
            room = cfg.send_window - len(self._unacked)
            want += min(room, -(-self._pending_bytes // cfg.max_payload))
        return max(1, min(want, cfg.pace_batch))

    def _has_transmit_work(self) -> bool:
        if self._retx or self._tx:
            return True
        return self._state is State.READY and bool(self._pending) and self._window_open()

    def _window_open(self) -> bool:
        return self._window_room() > 0

    def _window_room(self) -> int:
        """How many new messages may be framed: fewer than ``send_window`` unacked, and the
        span from the oldest unacked one under ``send_span``, so that selective acks cannot
        let the sender run further ahead than the peer's reorder buffer (10000 messages in
        the plugin) holds; beyond it the peer drops without acking and everything is resent."""
        unacked = self._unacked
        oldest = self._oldest_unacked
        while oldest < self._next_seq and oldest not in unacked:
            oldest += 1
        self._oldest_unacked = oldest
        cfg = self._cfg
        return min(cfg.send_window - len(unacked), cfg.send_span - (self._next_seq - oldest))
