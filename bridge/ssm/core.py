"""The sans-I/O protocol core of the SSM data channel: frames and time in, frames and events out.

CONTRACT SKELETON (to be implemented): the signatures below are the interface the transport
(``bridge/ssm/transport.py``) and the emulator's agent side program against. Keep them stable;
add, don't rename.

No sockets, no asyncio, no clock reads here: every method that depends on time takes ``now``
(seconds, monotonic, float). The I/O layer calls ``receive()`` for each binary frame, ``send()``
for application bytes, ``tick()`` when ``next_deadline()`` passes, then drains
``frames_to_send()`` onto the websocket and ``events()`` into the application.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.ssm.codec import Flag, PayloadType

CLIENT_VERSION = "1.2.677.0"  # above 1.2.331.0 (no smux keepalive) and 1.1.70 (mux allowed)
AGENT_VERSION = "3.3.1802.0"


class Role(enum.Enum):
    CLIENT = "client"  # sends input_stream_data, answers the handshake
    AGENT = "agent"  # sends output_stream_data, runs the handshake (emulator side)


class State(enum.Enum):
    HANDSHAKING = "handshaking"  # no application data flows yet
    READY = "ready"
    CLOSED = "closed"  # channel_closed seen/sent, or closed locally
    FAILED = "failed"  # handshake failed or timed out, KMS requested, ...


@dataclass(frozen=True, slots=True)
class CoreConfig:
    max_payload: int = 1024
    send_window: int = 4096  # unacked data messages in flight before back-pressure
    send_buffer: int = 1 << 20  # bytes accepted by send() but not yet framed
    receive_buffer: int = 10000  # out-of-order messages held; beyond this, dropped unacked
    rate_limit: float | None = 960.0  # data messages/s (pacing); None = unthrottled
    rate_burst: int = 16
    initial_rtt: float = 0.1
    initial_rto: float = 0.2
    min_rto_variance: float = 0.01
    max_rto: float = 1.0
    handshake_timeout: float = 15.0  # agent: wait for HandshakeResponse; client: for Complete


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandshakeRequested:
    """Client: the agent asked for the handshake (PT5)."""

    session_type: str
    properties: Mapping[str, str]
    agent_version: str


@dataclass(frozen=True, slots=True)
class HandshakeResponded:
    """Agent: the client's PT6 arrived (all actions succeeded, or the session fails)."""

    client_version: str


@dataclass(frozen=True, slots=True)
class SessionReady:
    """Application data may flow now (after PT7, or the first Output of a no-handshake session)."""

    session_type: str
    properties: Mapping[str, str]
    customer_message: str = ""


@dataclass(frozen=True, slots=True)
class DataReceived:
    """In-order application payload: Output/StdErr/ExitCode on the client, Output/Size on the agent."""

    data: bytes
    payload_type: int = PayloadType.OUTPUT


@dataclass(frozen=True, slots=True)
class FlagReceived:
    flag: int


@dataclass(frozen=True, slots=True)
class ChannelClosed:
    """The peer/service closed the channel (``channel_closed``)."""

    reason: str = ""
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class PublicationPaused:
    pass


@dataclass(frozen=True, slots=True)
class PublicationResumed:
    pass


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """A malformed frame was counted and ignored; the channel survives."""

    reason: str


@dataclass(frozen=True, slots=True)
class SessionFailed:
    """Terminal: KMS encryption requested, handshake timeout, a failed action, ..."""

    reason: str


Event = (
    HandshakeRequested
    | HandshakeResponded
    | SessionReady
    | DataReceived
    | FlagReceived
    | ChannelClosed
    | PublicationPaused
    | PublicationResumed
    | FrameRejected
    | SessionFailed
)


@dataclass(slots=True)
class ChannelStats:
    bytes_sent: int = 0  # application bytes accepted and framed
    bytes_received: int = 0  # application bytes delivered in order
    messages_sent: int = 0
    messages_received: int = 0
    retransmissions: int = 0
    duplicates_received: int = 0
    frames_rejected: int = 0
    pauses_received: int = 0
    rtt: float = 0.1
    rto: float = 0.2
    extra: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OpenDataChannelInput:
    """The first (text) frame of every websocket connection, client to service."""

    token_value: str
    client_id: str
    request_id: str
    message_schema_version: str = "1.0"
    client_version: str = CLIENT_VERSION

    def to_json(self) -> str:
        raise NotImplementedError

    @classmethod
    def from_json(cls, text: str) -> OpenDataChannelInput:
        """Parse and validate; raises codec.FrameError on anything malformed."""
        raise NotImplementedError


class DataChannelCore:
    """One data channel's protocol state, for either role. Survives websocket reconnects."""

    def __init__(
        self,
        role: Role,
        now: float,
        *,
        config: CoreConfig | None = None,
        client_id: str | None = None,
        version: str | None = None,
    ) -> None:
        raise NotImplementedError

    # -- identity / state
    @property
    def state(self) -> State:
        raise NotImplementedError

    @property
    def client_id(self) -> str:
        raise NotImplementedError

    @property
    def stats(self) -> ChannelStats:
        raise NotImplementedError

    @property
    def session_type(self) -> str | None:
        raise NotImplementedError

    @property
    def peer_version(self) -> str | None:
        """Agent version (client role, from PT5) or client version (agent role, from PT6/open)."""
        raise NotImplementedError

    # -- client role
    def open_frame(self, token: str) -> str:
        """The OpenDataChannelInput text for a (re)connection: new RequestId, same ClientId."""
        raise NotImplementedError

    # -- agent role
    def start_session(
        self,
        now: float,
        session_type: str,
        properties: Mapping[str, str] | None = None,
        *,
        kms_key_id: str | None = None,
    ) -> None:
        """Begin: send PT5 for Port/NonInteractiveCommands (or with KMS), else go READY at once."""
        raise NotImplementedError

    def close_channel(self, now: float, reason: str = "", session_id: str = "") -> None:
        """Agent/service: queue a ``channel_closed`` message and move to CLOSED."""
        raise NotImplementedError

    # -- both roles
    def receive(self, frame: bytes, now: float) -> None:
        """Feed one binary websocket frame. Never raises for bad input: emits FrameRejected."""
        raise NotImplementedError

    def send(self, data: bytes, now: float, payload_type: int = PayloadType.OUTPUT) -> int:
        """Queue application bytes; returns how many were accepted (0..len) under back-pressure.

        Bytes sent before READY are held and go out once the session is ready.
        """
        raise NotImplementedError

    def send_flag(self, flag: Flag, now: float) -> None:
        raise NotImplementedError

    def writable(self) -> int:
        """How many bytes ``send()`` would accept now."""
        raise NotImplementedError

    def all_acknowledged(self) -> bool:
        """Nothing queued and nothing in flight (for a clean close)."""
        raise NotImplementedError

    def tick(self, now: float) -> None:
        """Run timers: retransmission, handshake timeout."""
        raise NotImplementedError

    def frames_to_send(self, now: float) -> list[bytes]:
        """Drain the binary frames that may go out now (acks at once, data within pacing)."""
        raise NotImplementedError

    def events(self) -> list[Event]:
        """Drain the events produced since the last call."""
        raise NotImplementedError

    def next_deadline(self) -> float | None:
        """When ``tick()``/``frames_to_send()`` next has work (retransmit, pacing), or None."""
        raise NotImplementedError

    def connection_lost(self, now: float) -> None:
        """The websocket dropped: stop counting RTO against in-flight messages."""
        raise NotImplementedError

    def connection_resumed(self, now: float) -> None:
        """A new websocket is up (its open frame already sent): resend everything unacked."""
        raise NotImplementedError
