"""Property tests: the codec round-trips anything it can carry, and the core pair delivers
exactly the bytes sent, in order, whatever the network does to the frames."""

from __future__ import annotations

import hashlib
import uuid

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bridge.ssm import _wire
from bridge.ssm.codec import (
    AckPayload,
    ClientMessage,
    FrameError,
    decode,
    encode,
    uuid_from_wire,
    uuid_to_wire,
)
from bridge.ssm.core import CoreConfig, State

from .ssmcore_link import Link, schedule_fate

message_types = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    min_size=1,
    max_size=32,
).filter(lambda t: t not in ("start_publication", "pause_publication"))

messages = st.builds(
    ClientMessage,
    message_type=message_types,
    sequence_number=st.integers(-(2**63), 2**63 - 1),
    payload=st.binary(max_size=2048),
    payload_type=st.integers(0, 2**32 - 1),
    flags=st.integers(0, 2**64 - 1),
    message_id=st.uuids(),
    created_date=st.integers(1, 2**64 - 1),
    schema_version=st.integers(0, 2**32 - 1),
)


@given(messages)
def test_codec_round_trip(message: ClientMessage) -> None:
    frame = encode(message)
    assert len(frame) == 120 + len(message.payload)
    assert decode(frame) == message


@given(messages)
def test_fast_encoder_matches_the_codec(message: ClientMessage) -> None:
    if message.schema_version != 1 or message.message_type != message.message_type.strip():
        message = ClientMessage(
            message.message_type,
            message.sequence_number,
            message.payload,
            message.payload_type,
            message.flags,
            message.message_id,
            message.created_date,
            1,
        )
    fast = _wire.pack(
        _wire.padded_type(message.message_type),
        message.created_date,
        message.sequence_number,
        message.flags,
        uuid_to_wire(message.message_id),
        message.payload_type,
        message.payload,
    )
    assert fast == encode(message)


def test_wire_ids_are_version_4_uuids() -> None:
    pooled = _wire.WireIds()
    ids = {uuid_from_wire(_wire.new_wire_id()) for _ in range(100)}
    ids |= {uuid_from_wire(pooled()) for _ in range(600)}  # across three refills of the pool
    assert len(ids) == 700
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in ids)


def _slow_ack_sequence(frame: bytes) -> int | None:
    """The full reading: decode the frame, parse the JSON body."""
    try:
        message = decode(frame)
        if message.message_type != "acknowledge":
            return None
        return AckPayload.from_json(message.payload).sequence_number
    except FrameError:
        return None


ack_frames = st.builds(
    lambda kind, msg_id, seq, created: _wire.ack_frame(kind, str(msg_id), seq, created),
    st.sampled_from(["input_stream_data", "output_stream_data"]),
    st.uuids(),
    st.integers(0, 2**63 - 1),
    st.integers(1, 2**63 - 1),
)


@given(ack_frames)
def test_ack_fast_path_reads_every_ack_we_write(frame: bytes) -> None:
    fast = _wire.ack_sequence(frame)
    assert fast is not None
    assert fast == _slow_ack_sequence(frame)


@given(ack_frames, st.data())
def test_ack_fast_path_agrees_with_the_full_decoder_or_steps_aside(
    frame: bytes, data: st.DataObject
) -> None:
    mutated = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, len(mutated) - 1))
        mutated[where] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):  # re-digest, so mutations of the body reach the JSON parser
        mutated[80:112] = hashlib.sha256(bytes(mutated[120:])).digest()
    fast = _wire.ack_sequence(bytes(mutated))
    event("fast path" if fast is not None else "full decoder")
    if fast is not None:
        assert fast == _slow_ack_sequence(bytes(mutated))


fates = st.lists(
    st.tuples(st.sampled_from([0, 0, 1, 2]), st.floats(0.0, 0.05)),
    max_size=300,
)
writes = st.lists(st.binary(min_size=1, max_size=3000), max_size=12)
configs = st.sampled_from(
    [
        CoreConfig(rate_limit=None, handshake_timeout=1e6),
        CoreConfig(rate_limit=None, send_window=2, send_buffer=1500, handshake_timeout=1e6),
        CoreConfig(rate_limit=50.0, rate_burst=2, max_payload=100, handshake_timeout=1e6),
        CoreConfig(rate_limit=None, receive_buffer=1, handshake_timeout=1e6),
    ]
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    config=configs,
    schedule=fates,
    up=writes,
    down=writes,
    session=st.sampled_from(["Port", "Standard_Stream"]),
    reconnect_after=st.one_of(st.none(), st.integers(0, 40)),
)
def test_core_pair_delivers_exactly_what_was_sent(
    config: CoreConfig,
    schedule: list[tuple[int, float]],
    up: list[bytes],
    down: list[bytes],
    session: str,
    reconnect_after: int | None,
) -> None:
    if session == "Standard_Stream":
        down = [b"$ ", *down]  # a shell session starts when the first output reaches the client
    link = Link.pair(config, fate=schedule_fate(schedule), session_type=session)
    client, agent = link.client.core, link.agent.core
    queues = {"client": list(up), "agent": list(down)}
    offsets = {"client": 0, "agent": 0}

    def feeder(name: str) -> object:
        core = client if name == "client" else agent

        def feed(now: float) -> None:
            queue = queues[name]
            while queue:
                piece = queue[0][offsets[name] :]
                accepted = core.send(piece, now)
                offsets[name] += accepted
                if accepted < len(piece):
                    return
                queue.pop(0)
                offsets[name] = 0

        return feed

    link.sources += [feeder("client"), feeder("agent")]  # type: ignore[list-item]
    want_up, want_down = b"".join(up), b"".join(down)

    def done() -> bool:
        return (
            len(link.agent.received) >= len(want_up)
            and len(link.client.received) >= len(want_down)
            and client.all_acknowledged()
            and agent.all_acknowledged()
            and client.state is State.READY
        )

    if reconnect_after is not None:
        link.run(until=1e6, stop=lambda: link.frames_carried >= reconnect_after or done())
        link.disconnect()
        link.run_for(0.3)
        link.reconnect()
    link.run(until=1e6, stop=done)
    assert done()
    assert bytes(link.agent.received) == want_up
    assert bytes(link.client.received) == want_down
    resent = client.stats.retransmissions + agent.stats.retransmissions
    event("frames resent" if resent else "no frame resent")
    event("reordered/duplicated" if client.stats.duplicates_received else "no duplicate")
