"""Property tests: the codec round-trips anything it can carry, and the core pair delivers
exactly the bytes sent, in order, whatever the network does to the frames."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bridge.ssm import _wire
from bridge.ssm.codec import ClientMessage, decode, encode, uuid_to_wire
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
    from bridge.ssm.codec import uuid_from_wire

    ids = {uuid_from_wire(_wire.new_wire_id()) for _ in range(100)}
    assert len(ids) == 100
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in ids)


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
