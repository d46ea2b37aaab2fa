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
from collections.abc import Callable, Mapping
from typing import ClassVar

from bridge.ssm import _wire, messages
from bridge.ssm._pacing import TokenBucket
from bridge.ssm._rto import RtoEstimator
from bridge.ssm._sender import ENDING, TERMINAL, SendSide
from bridge.ssm._sendq import Outgoing, Pending, SendTimers
from bridge.ssm.codec import (
    AckPayload,
    ClientMessage,
    FrameError,
    MessageType,
    PayloadType,
    decode,
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
from bridge.ssm.errors import ChannelError, HandshakeError, HandshakeTimeout

_TERMINAL, _ENDING = TERMINAL, ENDING


class SequencedCore(SendSide, abc.ABC):
    """One data channel's protocol state, shared by both sides. Survives websocket reconnects.

    ``ClientChannelCore`` and ``AgentChannelCore`` fill in what differs (the message type each
    side sends, the handshake, what an in-order message means), as websockets'
    ``ClientProtocol``/``ServerProtocol`` do over one ``Protocol``.
    """

    _OUT_TYPE: ClassVar[str]  # the data message type this side sends
    _IN_TYPE: ClassVar[str]  # ... and the one it receives and acks
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
        full decoder, after the acks queued so far.

        The acks of one batch go out newest first but for the newest itself, which goes last
        (``order_acks``): the read loop may have held the socket unread (``readhold``), so the
        batch's oldest message waited longest and its newest hardly at all, and the sender
        times every ack in the order it comes. Its RTT estimate ends the batch near the
        longest wait, and the last sample, far below it, raises its RTTVAR by a quarter of the
        hold: its RTO (RTT + 4 RTTVAR) ends near twice the hold, so a read that comes late by
        up to about a hold does not cross it.
        """
        self._now = now
        control = self._control
        queued = len(control)
        acked: list[tuple[int, bytes]] = []  # (sequence, wire id) of data taken, not yet acked
        payloads: list[bytes] = []  # their payloads, not yet delivered
        acks: list[int] = []  # sequences our messages' acks named, not yet applied
        in_head = self._in_head
        ack_sequence, data_message = _wire.ack_sequence, _wire.data_message
        expected = self._expected
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
                    if data is not None and data[0] == expected:
                        if not acked:  # once per run, as for acks
                            self._on_peer_traffic()
                        acked.append((expected, data[1]))
                        payloads.append(data[2])
                        expected += 1
                        continue
            if acked:
                self._take_run(acked, payloads, expected)
                acked, payloads = [], []
            if acks:
                self._on_acks(acks, now)
                acks = []
            self._receive_full(frame, now)
            expected = self._expected
        if acked:
            self._take_run(acked, payloads, expected)
        if acks:
            self._on_acks(acks, now)
        if len(control) - queued > 1:
            order_acks(control, queued)

    def _take_run(
        self, acked: list[tuple[int, bytes]], payloads: list[bytes], expected: int
    ) -> None:
        """Deliver a run of in-order data messages taken on the fast path as one
        ``DataReceived`` (what every reader of the channel joins anyway: a byte stream), and
        queue their acks; ``expected`` is the sequence after the run's last."""
        data = b"".join(payloads)
        self._expected = expected
        stats = self._stats
        stats.messages_received += len(payloads)
        stats.bytes_received += len(data)
        self._events.append(DataReceived(data, PayloadType.OUTPUT))
        self._ack_batch(acked)

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

    def _bump(self, counter: str) -> None:
        self._stats.extra[counter] = self._stats.extra.get(counter, 0) + 1


def order_acks(control: deque[bytes], start: int) -> None:
    """Put the frames of ``control`` from ``start`` on (the acks one batch queued, oldest
    message first) in the order the sender should time them: newest first, except the newest
    itself, last (``SequencedCore.receive_batch``; docs/design/efficiency.md, "Holds of
    100 ms")."""
    frames = [control.pop() for _ in range(len(control) - start)]
    control.extend(frames[1:])
    control.extend(frames[:1])
