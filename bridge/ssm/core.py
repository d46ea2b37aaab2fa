"""The vocabulary of the sans-I/O data-channel cores: config, states, events, stats.

The cores themselves are ``sequenced.SequencedCore`` (both sides), ``client_core.ClientChannelCore``
(the transport's side) and ``agent_core.AgentChannelCore`` (the emulator's agent side).

The design note is docs/design/ssm-core.md; the wire facts are in docs/design/ssm-protocol.md.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.ssm.codec import PayloadType
from bridge.ssm.errors import ChannelError, HandshakeError

CLIENT_VERSION = "1.2.677.0"  # above 1.2.331.0 (no smux keepalive) and 1.1.70 (mux allowed)
AGENT_VERSION = "3.3.1802.0"


class State(enum.Enum):
    HANDSHAKING = "handshaking"  # no application data flows yet
    READY = "ready"
    DRAINING = "draining"  # channel_closed arrived with a gap: waiting for the missing messages
    CLOSED = "closed"  # channel_closed seen/sent, or closed locally
    FAILED = "failed"  # handshake failed or timed out, KMS requested, ...


@dataclass(frozen=True, slots=True)
class CoreConfig:
    max_payload: int = 1024
    send_window: int = 4096  # unacked data messages in flight before back-pressure
    send_span: int = 10000  # max seqs from the oldest unacked one: the peer's reorder buffer
    send_buffer: int = 1 << 20  # bytes accepted by send() but not yet framed
    receive_buffer: int = 10000  # out-of-order messages held; beyond this, dropped unacked
    rate_limit: float | None = 960.0  # data messages/s (pacing); None = unthrottled
    rate_burst: int = 32  # rate + burst = 992 < 1000 in any 1 s; absorbs a ~33 ms loop stall
    pace_batch: int = 28  # under a backlog, wait for this many tokens and send them together
    initial_rtt: float = 0.1
    initial_rto: float = 0.2
    min_rto_variance: float = 0.01
    max_rto: float = 3.0  # the reference caps at 1 s; see ssm-core.md "RTO" for why not
    handshake_timeout: float = 15.0  # agent: wait for HandshakeResponse; client: for Complete
    rto_backoff: float = 2.0  # RTO multiplier per round of timeouts (1.0 = plugin behaviour)
    close_grace: float = 1.0  # channel_closed with a gap: how long to wait for it to fill


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
    """The peer/service closed the channel (``channel_closed``).

    ``complete`` False: the stream is known to be short. Messages beyond the last one delivered
    had arrived, an earlier one never did (not within ``close_grace``, nor before the
    connection went). True says only that no gap was seen: a lost tail leaves no trace.
    """

    reason: str = ""
    session_id: str = ""
    complete: bool = True


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
    """Terminal: KMS encryption requested, handshake timeout, a failed action, ...

    ``error`` is the ``bridge.ssm.errors`` class the transport should raise for it.
    """

    reason: str
    error: type[ChannelError] = HandshakeError


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
class TransportStats:
    bytes_sent: int  # application bytes handed to the core and framed
    bytes_received: int  # application bytes delivered in order
    messages_sent: int
    messages_received: int
    retransmissions: int
    duplicates_received: int
    frames_rejected: int
    pauses_received: int
    rtt: float  # the core's smoothed round trip (acks), seconds
    rto: float
    reconnects: int  # websockets successfully resumed
    websocket_latency: float | None  # last ping/pong round trip, if a pong came back
    flags_received: Mapping[int, int] = field(default_factory=dict)  # Flag value -> count
    websocket_reads: int = 0  # batches the read loop took from the websocket(s)
    read_holds: int = 0  # reads after which reading was held for more (bridge/ssm/readhold.py)
    websocket_writes: int = 0  # batches the writer wrote to the websocket(s) (ssm/coalesce.py)
    write_holds: int = 0  # times the writer held a batch to coalesce it with the next output
