"""A batch of frames fed at once does to the core exactly what the same frames one by one do,
and the batch builders write the same bytes as the one-message ones (no change on the wire)."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from bridge.ssm import _wire
from bridge.ssm.codec import Flag, decode, encode
from bridge.ssm.core import ChannelStats, CoreConfig, DataReceived
from bridge.ssm.sequenced import order_acks

from .ssmcore_link import ack_for, make_frame, ready_client


def _seeded(seed: int) -> Callable[[int], bytes]:
    rng = random.Random(seed)
    return rng.randbytes


@given(st.integers(0, 2**32), st.integers(1, 600))
def test_pooled_ids_equal_one_by_one_ids_of_the_same_random_bytes(seed: int, count: int) -> None:
    pooled = _wire.WireIds(_seeded(seed))
    # One draw of 256 ids' bytes per pool; randbytes of whole words concatenate, so one long
    # draw is the same stream.
    stream = _seeded(seed)(16 * 256 * (count // 256 + 1))
    expected = [
        _wire.new_wire_id(lambda _n, at=at: stream[16 * at : 16 * at + 16]) for at in range(count)
    ]
    assert [pooled() for _ in range(count)] == expected


@given(
    st.sampled_from(["input_stream_data", "output_stream_data"]),
    st.lists(st.tuples(st.integers(0, 2**63 - 1), st.binary(min_size=16, max_size=16))),
    st.integers(1, 2**63 - 1),
    st.integers(0, 2**32),
)
def test_ack_frames_equal_ack_frame_byte_for_byte(
    kind: str, acked: list[tuple[int, bytes]], created: int, seed: int
) -> None:
    batch = _wire.ack_frames(kind, acked, created, _wire.WireIds(_seeded(seed)))
    ids = _wire.WireIds(_seeded(seed))
    single = [
        _wire.ack_frame(kind, _wire.id_text(wire_id), seq, created, ids()) for seq, wire_id in acked
    ]
    assert batch == single


def _corrupt(frame: bytes) -> bytes:
    damaged = bytearray(frame)
    damaged[-1] ^= 0xFF  # the digest no longer matches: rejected
    return bytes(damaged)


def _traffic() -> list[bytes]:
    """What a peer sends: in-order data, acks (known and unknown), a duplicate, a gap filled
    later, a flag, a damaged frame, a non-standard data message."""
    payload = hashlib.sha256(b"x").digest() * 32
    data = {seq: make_frame("output_stream_data", seq, payload + bytes([seq])) for seq in range(60)}
    flag = make_frame("output_stream_data", 60, (1).to_bytes(4, "big"), 10)
    odd = make_frame("output_stream_data", 61, b"no date", 1)
    odd = odd[:40] + bytes(8) + odd[48:]
    return [
        *(data[seq] for seq in range(2, 20)),
        ack_for("input_stream_data", 0),
        ack_for("input_stream_data", 999),
        data[5],
        data[25],
        *(data[seq] for seq in range(20, 25)),
        *(data[seq] for seq in range(26, 40)),
        _corrupt(data[40]),
        data[40],
        *(data[seq] for seq in range(41, 60)),
        flag,
        odd,
    ]


def _run(
    batches: list[list[bytes]], *, full: bool = False
) -> tuple[list[bytes], list[object], ChannelStats]:
    """What the client writes and reports; ``full``: every frame through the general decoder
    (no fast path at all: the reference)."""
    client = ready_client(CoreConfig(rate_limit=None), random_bytes=_seeded(7))
    out: list[bytes] = []
    events: list[object] = []
    for number, batch in enumerate(batches):
        now = 1.0 + number
        if full:  # one by one, then the batch's acks ordered as receive_batch sends them
            queued = len(client._control)
            for frame in batch:
                client._receive_full(frame, now)
            order_acks(client._control, queued)
        else:
            client.receive_batch(batch, now)
        out += client.frames_to_send(now)
        events += client.events()
    return out, _joined(events), client.stats


def _joined(events: list[object]) -> list[object]:
    """``events`` with adjacent data of one payload type joined: a byte stream, as every reader
    of a channel takes it (the fast path delivers a run of messages as one ``DataReceived``)."""
    out: list[object] = []
    for event in events:
        last = out[-1] if out else None
        if (
            isinstance(event, DataReceived)
            and isinstance(last, DataReceived)
            and last.payload_type == event.payload_type
        ):
            out[-1] = DataReceived(last.data + event.data, event.payload_type)
        else:
            out.append(event)
    return out


def test_batches_do_what_the_general_decoder_does_frame_by_frame() -> None:
    traffic = _traffic()
    for size in (1, 2, 7, 64, len(traffic)):
        batches = [traffic[at : at + size] for at in range(0, len(traffic), size)]
        reference = _run(batches, full=True)
        assert reference[2].messages_received > 50, "the traffic delivered too little"
        assert _run(batches) == reference, f"batches of {size}"


def test_data_framed_in_batches_is_what_the_codec_writes() -> None:
    """Data and a flag framed by the batch path: canonical codec frames, consecutive sequence
    numbers, the bytes split at max_payload, the flag in its place, one CreatedDate per batch."""
    client = ready_client(CoreConfig(rate_limit=None), random_bytes=_seeded(3))
    data = bytes(range(256)) * 21  # 5376 bytes: five full messages and a partial one
    client.send(data, 1.0)
    client.send_flag(Flag.TERMINATE_SESSION, 1.0)
    client.send(b"after the flag", 1.0)
    frames = client.frames_to_send(1.5)
    messages = [decode(frame) for frame in frames]
    assert [encode(message) for message in messages] == frames
    assert [m.sequence_number for m in messages] == list(range(1, 9))  # 0 was the handshake
    assert [m.payload_type for m in messages] == [1] * 6 + [10, 1]
    assert b"".join(m.payload for m in messages[:6]) == data
    assert [len(m.payload) for m in messages[:6]] == [1024] * 5 + [256]
    assert messages[7].payload == b"after the flag"
    assert {m.created_date for m in messages} == {1_700_000_001_500}
    assert len({m.message_id for m in messages}) == 8
    assert client.stats.bytes_sent == len(data) + len(b"after the flag")
    assert client.in_flight == 9 - 1  # the handshake's PT6 was acked by ready_client


def test_a_small_send_spends_one_token_not_the_whole_burst() -> None:
    """Under pacing a keystroke takes one token: the next one, at the same moment, still goes
    out at once from the rest of the burst (a batch takes what it framed, not what it could)."""
    client = ready_client(CoreConfig(rate_limit=960.0, rate_burst=32))
    sent = []
    for key in (b"l", b"s", b"\r"):
        client.send(key, 1.0)
        sent.append([decode(frame).payload for frame in client.frames_to_send(1.0)])
    assert sent == [[b"l"], [b"s"], [b"\r"]]


def test_the_acks_of_one_batch_go_out_newest_first_but_the_newest_last() -> None:
    """After a read hold the batch's oldest message waited longest and its newest hardly at
    all: the sender's RTT estimate ends near the longest wait and its last sample, the
    shortest, widens its RTTVAR and so its RTO (bridge/ssm/readhold.py)."""
    payload = b"x" * 1024
    client = ready_client(CoreConfig(rate_limit=None))
    client.receive_batch(
        [make_frame("output_stream_data", seq, payload) for seq in range(2, 9)], 1.0
    )
    acks = [decode(frame) for frame in client.frames_to_send(1.0)]
    acked = [json.loads(ack.payload)["AcknowledgedMessageSequenceNumber"] for ack in acks]
    assert acked == [*range(7, 1, -1), 8]
    client.receive_batch([make_frame("output_stream_data", 9, payload)], 2.0)
    assert len(client.frames_to_send(2.0)) == 1
