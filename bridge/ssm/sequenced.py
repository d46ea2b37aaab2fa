"""The sans-I/O protocol core of the SSM data channel, both sides: frames and time in, frames
and events out.

Sequencing, acks, the reorder buffer, retransmission (RTO), back-pressure, pacing, flags and
close are written once here; ``client_core.ClientChannelCore`` (the transport's side) and
``agent_core.AgentChannelCore`` (the emulator's agent) add the handshake and what an in-order
message means. Every method that depends on time takes ``now`` (seconds, monotonic, float).
The I/O layer calls ``receive()`` for each binary frame, ``send()`` for application bytes,
``tick()`` when ``next_deadline()`` passes, then drains ``frames_to_send()`` onto the websocket
and ``events()`` into the application. The drains are pure: only ``tick()`` runs timers.

The design note is docs/design/ssm-core.md; the wire facts are in docs/design/ssm-protocol.md.
The vocabulary (config, states, events, stats) is in ``core``.
"""

from __future__ import annotations

import abc
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from bridge.ssm import _wire, messages
from bridge.ssm._pacing import TokenBucket
from bridge.ssm._rto import RtoEstimator
from bridge.ssm._sendq import Outgoing, Pending, SendTimers
from bridge.ssm.codec import (
    AckPayload,
    ClientMessage,
    Flag,
    FrameError,
    MessageType,
    PayloadType,
    decode,
    flag_payload,
    parse_flag,
)
from bridge.ssm.core import (
    ChannelClosed,
    ChannelStats,
    CoreConfig,
    DataReceived,
    Event,
    FlagReceived,
    FrameRejected,
    PublicationPaused,
    PublicationResumed,
    SessionFailed,
    SessionReady,
    State,
)
from bridge.ssm.errors import ChannelClosedError, ChannelError, HandshakeError, HandshakeTimeout

_TERMINAL = frozenset({State.CLOSED, State.FAILED})
_ENDING = _TERMINAL | {State.DRAINING}  # nothing more is accepted or resent


class SequencedCore(abc.ABC):
    """One data channel's protocol state, shared by both sides. Survives websocket reconnects.

    ``ClientChannelCore`` and ``AgentChannelCore`` fill in what differs (the message type each
    side sends, the handshake, what an in-order message means), as websockets'
    ``ClientProtocol``/``ServerProtocol`` do over one ``Protocol``.
    """

    _OUT_TYPE: ClassVar[str]  # the data message type this side sends
    _IN_TYPE: ClassVar[str]  # ... and the one it receives and acks
    _FIRST_FLAGS: ClassVar[int] = 0  # flags of sequence number 0
    _VERSION: ClassVar[str]  # the version this side reports unless told otherwise

    def __init__(
        self,
        now: float,
        *,
        config: CoreConfig | None = None,
        client_id: str | None = None,
        version: str | None = None,
        epoch: float | None = None,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        """The one constructor of both sides (they add ``_started`` work, not parameters).

        ``epoch`` is the Unix time that ``now`` corresponds to (for CreatedDate); by default
        the wall clock is read once, here, and never again. ``new_id`` and ``random_bytes`` are
        the id and randomness sources (``uuid4``, ``os.urandom`` unless a test pins them).
        ``client_id`` None: the side's default (a new id on the client, learnt on the agent)."""
        cfg = config or CoreConfig()
        if min(cfg.max_payload, cfg.send_window, cfg.send_span, cfg.send_buffer) < 1:
            raise ValueError("max_payload, send_window, send_span and send_buffer must be >= 1")
        self._cfg = cfg
        self._client_id = client_id or self._default_client_id(new_id)
        self._version = version or self._VERSION
        self._new_id = new_id
        self._random_bytes = random_bytes
        self._wire_ids = _wire.WireIds(random_bytes)
        self._out_type_field = _wire.padded_type(self._OUT_TYPE)
        self._in_head = _wire.message_head(self._IN_TYPE)
        self._epoch_offset = (time.time() if epoch is None else epoch) - now
        self._state = State.HANDSHAKING
        self._stats = ChannelStats(rtt=cfg.initial_rtt, rto=cfg.initial_rto)
        self._session_type: str | None = None
        self._properties: Mapping[str, str] = {}
        self._peer_version: str | None = None
        self._events: list[Event] = []
        self._now = now
        # sending
        self._next_seq = 0
        self._unacked: dict[int, Outgoing] = {}  # insertion order == sequence order
        self._oldest_unacked = 0  # lower edge of the send window (advanced lazily)
        self._tx: deque[int] = deque()  # framed control messages not yet sent once
        self._retx: deque[int] = deque()  # messages due for retransmission
        self._timers = SendTimers()
        self._pending: deque[Pending] = deque()
        self._pending_bytes = 0
        self._control: deque[bytes] = deque()  # acks and channel_closed: never paced
        self._rto = RtoEstimator(
            initial_rtt=cfg.initial_rtt,
            initial_rto=cfg.initial_rto,
            min_variance=cfg.min_rto_variance,
            max_rto=cfg.max_rto,
            backoff_factor=max(1.0, cfg.rto_backoff),
        )
        self._bucket = TokenBucket(cfg.rate_limit, cfg.rate_burst, now)
        self._connected = True
        self._paused = False
        # receiving
        self._expected = 0
        self._reorder: dict[int, tuple[ClientMessage, object]] = {}
        self._peer_closed = ("", "")  # channel_closed's reason and session id
        self._close_deadline = 0.0  # DRAINING: when to stop waiting for the gap to fill
        # handshake
        self._handshake_deadline: float | None = None
        self._handshake_started = now
        self._handshake_seen = False  # client: PT5 arrived / agent: PT5 sent
        self._first_frame_seen = False
        self._started(now)

    # -- identity / state

    @property
    def state(self) -> State:
        return self._state

    @property
    def client_id(self) -> str:
        return self._client_id

    @property
    def stats(self) -> ChannelStats:
        return self._stats

    @property
    def session_type(self) -> str | None:
        return self._session_type

    @property
    def properties(self) -> Mapping[str, str]:
        return self._properties

    @property
    def peer_version(self) -> str | None:
        """Agent version (client role, from PT5) or client version (agent role, from PT6/open)."""
        return self._peer_version

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def queued_bytes(self) -> int:
        """Application bytes accepted by ``send()`` and not yet framed (pacing, window)."""
        return self._pending_bytes

    @property
    def in_flight(self) -> int:
        """Data messages sent (or framed) and not acknowledged yet."""
        return len(self._unacked)

    # -- the protocol, both sides

    def receive(self, frame: bytes, now: float) -> None:
        """Feed one binary websocket frame. Never raises for bad input: emits FrameRejected."""
        self.receive_batch([frame], now)

    def receive_batch(self, frames: list[bytes], now: float) -> None:
        """Feed the frames of one socket read, in order (each as ``receive`` would).

        Most frames of a transfer take a fast path: a standard ack is read without JSON or a
        UUID (``_wire.ack_sequence``), and the next in-order plain Output message of a ready
        channel is delivered without a ClientMessage (``_wire.data_message``), its ack built
        with the batch's others in one pass (``_wire.ack_frames``). Anything else goes to the
        full decoder, after the acks queued so far, so acks stay in order.
        """
        self._now = now
        acked: list[tuple[int, bytes]] = []  # (sequence, wire id) of data taken, not yet acked
        acks: list[int] = []  # sequences our messages' acks named, not yet applied
        in_head = self._in_head
        ack_sequence, data_message = _wire.ack_sequence, _wire.data_message
        stats, events = self._stats, self._events
        for frame in frames:
            if self._first_frame_seen:
                sequence = ack_sequence(frame)
                if sequence is not None:
                    if not acks:  # once per run: it only ever changes state the first time
                        self._on_peer_traffic()
                    acks.append(sequence)
                    continue
                if self._state is State.READY and not self._reorder:
                    data = data_message(frame, in_head)
                    if data is not None and data[0] == self._expected:
                        sequence, wire_id, payload = data
                        self._on_peer_traffic()
                        acked.append((sequence, wire_id))
                        self._expected = sequence + 1
                        stats.messages_received += 1
                        stats.bytes_received += len(payload)
                        events.append(DataReceived(payload, PayloadType.OUTPUT))
                        continue
            if acked:
                self._ack_batch(acked)
                acked = []
            if acks:
                self._on_acks(acks, now)
                acks = []
            self._receive_full(frame, now)
            events = self._events
        if acked:
            self._ack_batch(acked)
        if acks:
            self._on_acks(acks, now)

    def _ack_batch(self, acked: list[tuple[int, bytes]]) -> None:
        created = self._created_ms(self._now)
        self._control.extend(_wire.ack_frames(self._IN_TYPE, acked, created, self._wire_ids))

    def _receive_full(self, frame: bytes, now: float) -> None:
        """The general path: decode, then dispatch (handshake, flags, order, duplicates)."""
        self._now = now
        try:
            message = decode(frame)
            if not self._first_frame_seen:
                self._first_frame_seen = True
                self._on_first_frame(now)
            self._dispatch(message, now)
        except FrameError as exc:
            self._stats.frames_rejected += 1
            self._events.append(FrameRejected(str(exc)))

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
        if self._state in _ENDING:
            return 0
        return max(0, self._cfg.send_buffer - self._pending_bytes)

    def all_acknowledged(self) -> bool:
        """Nothing queued and nothing in flight (for a clean close)."""
        return not self._pending and not self._unacked

    def tick(self, now: float) -> None:
        """Run timers: retransmission, handshake timeout, the end of DRAINING."""
        self._now = now
        if (
            self._state is State.HANDSHAKING
            and self._handshake_deadline is not None
            and now >= self._handshake_deadline
        ):
            self._handshake_timed_out()
        if self._state is State.DRAINING:
            self._settle_close(now)
        if not self._connected or self._paused or self._state in _ENDING:
            return
        expired = self._timers.expire(self._unacked, self._rto.current, now)
        for seq in expired:
            self._unacked[seq].queued = True
            self._retx.append(seq)
        if expired:
            self._rto.timed_out()
            self._stats.rto = self._rto.current

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

    def events(self) -> list[Event]:
        """Drain the events produced since the last call."""
        events = self._events
        self._events = []
        return events

    def next_deadline(self) -> float | None:
        """When ``tick()`` (timers) or ``frames_to_send()`` (pacing) next has work, or None."""
        deadline: float | None = None
        if self._state is State.HANDSHAKING and self._handshake_deadline is not None:
            deadline = self._handshake_deadline
        elif self._state is State.DRAINING:
            deadline = self._close_deadline
        if not self._connected:
            return deadline
        candidates: list[float] = []
        if self._control:
            candidates.append(self._now)
        if not self._paused and self._state is not State.CLOSED:
            if self._has_transmit_work():
                candidates.append(self._bucket.ready_at(self._pace_want()))
            if self._state is not State.FAILED:
                head = self._timers.head(self._unacked)
                if head is not None:
                    candidates.append(head + self._rto.current)
        for candidate in candidates:
            if deadline is None or candidate < deadline:
                deadline = candidate
        return deadline

    def connection_lost(self, now: float) -> None:
        """The websocket dropped: stop counting RTO against in-flight messages.

        While DRAINING the channel closes at once: the service ended the session, so no
        resume can bring the missing messages."""
        self._now = now
        self._connected = False
        if self._state is State.DRAINING:
            self._settle_close(now)
        self._timers.clear()
        self._retx.clear()
        self._tx.clear()
        for entry in self._unacked.values():
            entry.queued = False

    def connection_resumed(self, now: float) -> None:
        """A new websocket is up (its open frame already sent): resend everything unacked.

        A pause belonged to the old connection, so publication resumes too.
        """
        self._now = now
        self._connected = True
        self._timers.clear()
        self._retx.clear()
        self._tx.clear()
        for seq, entry in self._unacked.items():
            entry.queued = True
            self._retx.append(seq)
        if self._paused:
            self._set_paused(False)

    # -- receiving

    def _dispatch(self, message: ClientMessage, now: float) -> None:
        kind = message.message_type
        if kind == MessageType.ACKNOWLEDGE:
            ack = AckPayload.from_json(message.payload)
            self._on_peer_traffic()
            self._on_acks((ack.sequence_number,), now)
        elif kind == self._IN_TYPE:
            parsed = self._validate(message)
            if self._state in _TERMINAL:
                return
            self._on_peer_traffic()
            self._on_data(message, parsed)
            if self._state is State.DRAINING:
                self._settle_close(now)
        elif kind == MessageType.CHANNEL_CLOSED:
            if self._state in (State.CLOSED, State.DRAINING):
                return
            self._peer_closed = messages.parse_channel_closed(message.payload)
            if self._state is State.READY:
                self._stop_data(State.DRAINING)
                self._close_deadline = now + self._cfg.close_grace
            self._settle_close(now)
        elif kind == MessageType.PAUSE_PUBLICATION:
            self._stats.pauses_received += 1
            self._set_paused(True)
        elif kind == MessageType.START_PUBLICATION:
            self._set_paused(False)
        elif kind == self._OUT_TYPE:
            raise FrameError(f"peer sent {kind}, which only this side sends")
        # anything else (agent_session_state, future types) is ignored, as the plugin does

    def _validate(self, message: ClientMessage) -> object:
        """Parse a data message's structured payload up front: a malformed one is rejected
        before it takes a sequence slot or an ack, exactly as if it had been lost."""
        kind = message.payload_type
        if kind == PayloadType.FLAG:
            return parse_flag(message.payload)
        return self._parse_handshake(kind, message.payload)

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

    def _on_data(self, message: ClientMessage, parsed: object) -> None:
        seq = message.sequence_number
        expected = self._expected
        if seq == expected:
            self._ack_message(message)
            self._process(message, parsed)
            expected += 1
            reorder = self._reorder
            while reorder and expected in reorder:
                buffered, buffered_parsed = reorder.pop(expected)
                self._process(buffered, buffered_parsed)
                expected += 1
            self._expected = expected
        elif seq > expected:
            if seq in self._reorder:
                self._stats.duplicates_received += 1
                self._ack_message(message)
            elif seq - expected < self._cfg.receive_buffer:
                self._reorder[seq] = (message, parsed)
                self._ack_message(message)
            else:
                self._bump("dropped_beyond_receive_buffer")  # unacked: the peer resends
        else:
            self._stats.duplicates_received += 1
            self._ack_message(message)  # its ack may have been lost, e.g. across a reconnect

    def _ack_message(self, message: ClientMessage) -> None:
        self._ack(message.sequence_number, str(message.message_id))

    def _ack(self, seq: int, message_id: str) -> None:
        # Only our own incoming type is ever acked, so it is a known ASCII constant in the JSON.
        created = self._created_ms(self._now)
        ack = _wire.ack_frame(self._IN_TYPE, message_id, seq, created, self._wire_ids())
        self._control.append(ack)

    def _process(self, message: ClientMessage, parsed: object) -> None:
        """Act on one in-order data message."""
        if self._state in _TERMINAL:
            return
        self._stats.messages_received += 1
        self._process_in_order(message, parsed)

    # -- what differs between the sides

    @abc.abstractmethod
    def _default_client_id(self, new_id: Callable[[], uuid.UUID]) -> str:
        """The ClientId when the constructor was given none."""

    @abc.abstractmethod
    def _started(self, now: float) -> None:
        """Side-specific state, set up at the end of the constructor."""

    @abc.abstractmethod
    def _on_first_frame(self, now: float) -> None:
        """The peer is alive (its first frame arrived on this channel)."""

    @abc.abstractmethod
    def _on_peer_traffic(self) -> None:
        """An ack or a data message arrived."""

    @abc.abstractmethod
    def _parse_handshake(self, payload_type: int, payload: bytes) -> object:
        """Parse the handshake bodies this side receives (None for anything else)."""

    @abc.abstractmethod
    def _process_in_order(self, message: ClientMessage, parsed: object) -> None:
        """Act on one in-order data message of a channel not yet terminal."""

    @abc.abstractmethod
    def _handshake_timeout_reason(self) -> str:
        """What the handshake timeout waited for, for SessionFailed."""

    def _as_event(self, message: ClientMessage, parsed: object) -> Event:
        if isinstance(parsed, int):
            return FlagReceived(parsed)
        self._stats.bytes_received += len(message.payload)
        return DataReceived(message.payload, message.payload_type)

    def _deliver(self, message: ClientMessage, parsed: object) -> None:
        self._events.append(self._as_event(message, parsed))

    # -- state changes

    def _become_ready(self, customer_message: str) -> None:
        self._state = State.READY
        self._handshake_deadline = None
        self._events.append(
            SessionReady(self._session_type or "", self._properties, customer_message)
        )

    def _handshake_timed_out(self) -> None:
        self._fail(self._handshake_timeout_reason(), HandshakeTimeout)

    def _fail(self, reason: str, error: type[ChannelError] = HandshakeError) -> None:
        if self._state in _TERMINAL:
            return
        self._events.append(SessionFailed(reason, error))
        self._stop_data(State.FAILED)

    def _settle_close(self, now: float) -> None:
        """After channel_closed, the one way to CLOSED. From READY the core is DRAINING; it
        stays so while a gap is known (messages beyond ``_expected`` were received), the grace
        lasts and the connection is up. The end is complete once no gap is left; incomplete
        when the grace ran out or the connection went (the session is over: nothing can
        resend the rest). A gap is the only evidence there is: a lost tail leaves none."""
        complete = self._state is not State.DRAINING or not self._reorder
        if not complete and self._connected and now < self._close_deadline:
            return
        self._events.append(ChannelClosed(*self._peer_closed, complete=complete))
        self._stop_data(State.CLOSED)

    def _stop_data(self, state: State) -> None:
        """Stop sending data for good (CLOSED, FAILED, or DRAINING on the way to CLOSED).
        Control frames still queued (the refusing PT6, acks, the channel_closed) go out;
        nothing is retransmitted any more."""
        self._state = state
        self._handshake_deadline = None
        self._pending.clear()
        self._pending_bytes = 0
        self._timers.clear()
        self._retx.clear()

    def _set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = paused
        self._events.append(PublicationPaused() if paused else PublicationResumed())

    def _check_open(self) -> None:
        if self._state in _TERMINAL:
            raise ChannelClosedError(f"the data channel is {self._state.value}")

    def _bump(self, counter: str) -> None:
        self._stats.extra[counter] = self._stats.extra.get(counter, 0) + 1

    # -- sending

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
