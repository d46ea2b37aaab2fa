"""An in-memory link between a CLIENT core and an AGENT core, on a virtual clock.

It plays the websocket and the network: every frame either core emits is dropped, delayed,
duplicated or reordered by a seeded schedule, and delivered at a virtual time, so retransmission
and pacing can be checked against exact times, and hours of lossy traffic run in seconds.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.ssm.agent_core import AgentChannelCore
from bridge.ssm.client_core import ClientChannelCore
from bridge.ssm.codec import AckPayload, ClientMessage, decode, encode
from bridge.ssm.core import (
    CoreConfig,
    DataReceived,
    Event,
    State,
)
from bridge.ssm.sequenced import SequencedCore

# A fate decides what happens to one frame: a list of delivery delays ([] = lost, two = dup).
Fate = Callable[[str, bytes], list[float]]


@dataclass
class Faults:
    loss: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0  # chance of an extra random delay (so later frames overtake it)
    latency: float = 0.01
    reorder_delay: float = 0.03

    def fate(self, rng: random.Random) -> Fate:
        def decide(direction: str, frame: bytes) -> list[float]:
            if self.loss and rng.random() < self.loss:
                return []
            copies = 2 if self.dup and rng.random() < self.dup else 1
            delays = []
            for _ in range(copies):
                delay = self.latency
                if self.reorder and rng.random() < self.reorder:
                    delay += rng.random() * self.reorder_delay
                delays.append(delay)
            return delays

        return decide


def schedule_fate(schedule: list[tuple[int, float]], latency: float = 0.01) -> Fate:
    """Faults from an explicit list consumed frame by frame, then a clean link (so that any
    schedule, however hostile, ends and the transfer must complete).

    Each entry is (copies, extra delay): copies 0 drops the frame, 2 duplicates it.
    """
    remaining = list(schedule)

    def decide(direction: str, frame: bytes) -> list[float]:
        if not remaining:
            return [latency]
        copies, extra = remaining.pop(0)
        return [latency + extra * (i + 1) for i in range(copies)]

    return decide


@dataclass
class Endpoint:
    core: SequencedCore
    events: list[Event] = field(default_factory=list)
    received: bytearray = field(default_factory=bytearray)
    keep_data: bool = True
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    received_count: int = 0
    sent_frames: list[tuple[float, bytes]] = field(default_factory=list)
    record: bool = False

    def take_events(self) -> None:
        for event in self.core.events():
            if isinstance(event, DataReceived):
                self.digest.update(event.data)
                self.received_count += len(event.data)
                if self.keep_data:
                    self.received += event.data
                else:
                    continue
            self.events.append(event)


class Link:
    def __init__(
        self,
        client: SequencedCore,
        agent: SequencedCore,
        *,
        fate: Fate | None = None,
        now: float = 0.0,
    ) -> None:
        self.now = now
        self.client = Endpoint(client)
        self.agent = Endpoint(agent)
        self.fate: Fate = fate or Faults().fate(random.Random(0))
        self.connected = True
        self._wire: list[tuple[float, int, str, bytes]] = []
        self._counter = 0
        self.frames_carried = 0
        self.sources: list[Callable[[float], None]] = []

    @classmethod
    def pair(
        cls,
        config: CoreConfig | None = None,
        *,
        agent_config: CoreConfig | None = None,
        fate: Fate | None = None,
        session_type: str | None = "Port",
        properties: dict[str, str] | None = None,
    ) -> Link:
        client = ClientChannelCore(0.0, config=config, epoch=1_700_000_000.0)
        agent = AgentChannelCore(0.0, config=agent_config or config, epoch=1_700_000_000.0)
        link = cls(client, agent, fate=fate)
        agent.accept_open(client.open_frame("token"))
        if session_type is not None:
            agent.start_session(
                0.0, session_type, {"portNumber": "22"} if properties is None else properties
            )
        return link

    # -- the network

    def _emit(self, source: str, endpoint: Endpoint) -> None:
        endpoint.core.tick(self.now)
        frames = endpoint.core.frames_to_send(self.now)
        if endpoint.record:
            endpoint.sent_frames.extend((self.now, f) for f in frames)
        if not self.connected:
            assert not frames, "a disconnected core emitted frames"
            return
        destination = "agent" if source == "client" else "client"
        for frame in frames:
            for delay in self.fate(source, frame):
                self._counter += 1
                heapq.heappush(self._wire, (self.now + delay, self._counter, destination, frame))

    def pump(self) -> None:
        for source in self.sources:
            source(self.now)
        self._emit("client", self.client)
        self._emit("agent", self.agent)
        self.client.take_events()
        self.agent.take_events()

    def next_time(self) -> float | None:
        times = [self._wire[0][0]] if self._wire else []
        for endpoint in (self.client, self.agent):
            deadline = endpoint.core.next_deadline()
            if deadline is not None:
                times.append(deadline)
        return min(times) if times else None

    def step(self, until: float) -> bool:
        """Advance to the next thing that happens (not past ``until``); False when idle."""
        self.pump()
        when = self.next_time()
        if when is None or when > until:
            if until != float("inf"):
                self.now = max(self.now, until)
            return False
        self.now = max(self.now, when)
        while self._wire and self._wire[0][0] <= self.now:
            _, _, destination, frame = heapq.heappop(self._wire)
            self.frames_carried += 1
            endpoint = self.client if destination == "client" else self.agent
            endpoint.core.receive(frame, self.now)
        self.client.core.tick(self.now)
        self.agent.core.tick(self.now)
        self.pump()
        return True

    def run(
        self,
        until: float = float("inf"),
        *,
        stop: Callable[[], bool] | None = None,
        max_steps: int = 10_000_000,
    ) -> None:
        last_now, same = self.now, 0
        for _ in range(max_steps):
            if stop is not None and stop():
                return
            if not self.step(until):
                return
            if self.now == last_now:
                same += 1
                assert same < 10_000, f"no progress at t={self.now}"
            else:
                last_now, same = self.now, 0
        raise AssertionError("max_steps exhausted")

    def run_for(self, seconds: float) -> None:
        self.run(self.now + seconds)

    # -- reconnects

    def disconnect(self) -> None:
        """The websocket drops: every frame on the wire is lost."""
        self.pump()
        self.connected = False
        self._wire.clear()
        self.client.core.connection_lost(self.now)
        self.agent.core.connection_lost(self.now)

    def reconnect(self) -> None:
        opened = self.agent.core.accept_open(self.client.core.open_frame("token-2"))
        assert opened.client_id == self.client.core.client_id
        self.connected = True
        self.client.core.connection_resumed(self.now)
        self.agent.core.connection_resumed(self.now)
        self.pump()


class Source:
    """Feeds a deterministic pseudo-random byte stream into a core as fast as it accepts."""

    def __init__(self, core: SequencedCore, total: int, seed: int, block: int = 1 << 20):
        self.core = core
        self.total = total
        self.offset = 0
        self.digest = hashlib.sha256()
        self._rng = random.Random(seed)
        self._block = block
        self._buffer = b""
        self._pos = 0

    def __call__(self, now: float) -> None:
        core = self.core
        if core.state is not State.READY and core.state is not State.HANDSHAKING:
            return
        while self.offset < self.total:
            room = core.writable()
            if room <= 0:
                return
            if self._pos >= len(self._buffer):
                size = min(self._block, self.total - self.offset)
                self._buffer = self._rng.randbytes(size)
                self._pos = 0
            piece = self._buffer[self._pos : self._pos + room]
            accepted = core.send(piece, now)
            assert 0 <= accepted <= len(piece)
            self.digest.update(piece[:accepted])
            self._pos += accepted
            self.offset += accepted
            if accepted < len(piece):
                return

    @property
    def done(self) -> bool:
        return self.offset >= self.total


def make_frame(
    message_type: str,
    seq: int,
    payload: bytes = b"",
    payload_type: int = 1,
    flags: int = 0,
) -> bytes:
    """A frame as a peer would send it, for injecting by hand."""
    return encode(
        ClientMessage(
            message_type=message_type,
            sequence_number=seq,
            payload=payload,
            payload_type=payload_type,
            flags=flags,
            created_date=1_700_000_000_000,
        )
    )


def decoded(frames: list[bytes]) -> list[ClientMessage]:
    return [decode(f) for f in frames]


def data_messages(frames: list[bytes]) -> list[ClientMessage]:
    return [m for m in decoded(frames) if m.message_type != "acknowledge"]


def acked_sequences(frames: list[bytes]) -> list[int]:
    return [
        AckPayload.from_json(m.payload).sequence_number
        for m in decoded(frames)
        if m.message_type == "acknowledge"
    ]


PORT_REQUEST = (
    b'{"AgentVersion":"3.3.1802.0","RequestedClientActions":[{"ActionType":"SessionType",'
    b'"ActionParameters":{"SessionType":"Port","Properties":{"portNumber":"22"}}}]}'
)
COMPLETE = b'{"HandshakeTimeToComplete":1000000,"CustomerMessage":""}'


def ack_for(message_type: str, seq: int) -> bytes:
    payload = AckPayload(message_type, uuid.uuid4(), seq).to_json()
    return make_frame("acknowledge", 0, payload, 0, 3)


def drain(core: SequencedCore, now: float) -> list[bytes]:
    """What a driver does when a deadline passes: run the timers, then drain the frames."""
    core.tick(now)
    return core.frames_to_send(now)


def ready_client(
    config: CoreConfig | None = None, random_bytes: Callable[[int], bytes] | None = None
) -> ClientChannelCore:
    """A client that finished a Port handshake by t=0.05, its PT6 acked after 50 ms:
    RTT 0.09375, RTTVAR 0.0125, RTO 0.14375 (reference formulas, one 0.05 s sample).
    ``random_bytes`` pins its randomness (the message ids it writes)."""
    client = ClientChannelCore(
        0.0, config=config, epoch=1_700_000_000.0, random_bytes=random_bytes or os.urandom
    )
    client.receive(make_frame("output_stream_data", 0, PORT_REQUEST, 5, 1), 0.0)
    drain(client, 0.0)
    client.receive(make_frame("output_stream_data", 1, COMPLETE, 7), 0.0)
    drain(client, 0.0)
    client.receive(ack_for("input_stream_data", 0), 0.05)
    assert client.state is State.READY
    client.events()
    return client


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualLoop:
    """The part of an asyncio loop a ``CoreDriver`` uses (``time``, ``call_at``,
    ``call_soon``), on a virtual clock: ``run_until`` runs the timers in time order."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.scheduled = 0  # call_at calls
        self._timers: list[tuple[float, int, _VirtualTimer]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object]) -> _VirtualTimer:
        self.scheduled += 1
        timer = _VirtualTimer(when, callback)
        heapq.heappush(self._timers, (when, self.scheduled, timer))
        return timer

    def call_soon(self, callback: Callable[[], object]) -> _VirtualTimer:
        return self.call_at(self.now, callback)

    def run_until(self, end: float) -> int:
        """Run every live timer due by ``end``, advancing the clock; how many ran."""
        ran = 0
        while self._timers and self._timers[0][0] <= end:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.now = max(self.now, when)
            timer.callback()
            ran += 1
        self.now = max(self.now, end)
        return ran
