"""Sequencing, acks, retransmission, pacing, back-pressure, pause, flags and closing."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from bridge.ssm._rto import RtoEstimator
from bridge.ssm.agent_core import AgentChannelCore
from bridge.ssm.codec import AckPayload, Flag, PayloadType, decode
from bridge.ssm.core import (
    ChannelClosed,
    CoreConfig,
    DataReceived,
    FlagReceived,
    FrameRejected,
    PublicationPaused,
    PublicationResumed,
    State,
)
from bridge.ssm.errors import ChannelClosedError

from .ssmcore_link import (
    Faults,
    Link,
    Source,
    ack_for,
    acked_sequences,
    data_messages,
    decoded,
    drain,
    make_frame,
    ready_client,
)

RTO_AFTER_HANDSHAKE = 0.09375 + 4 * 0.0125  # see ready_client()


def data_seqs(frames: list[bytes]) -> list[int]:
    return [m.sequence_number for m in data_messages(frames)]


# ---- RTO arithmetic ----------------------------------------------------------------------


def test_rto_estimator_follows_the_reference_formulas() -> None:
    rto = RtoEstimator(
        initial_rtt=0.1, initial_rto=0.2, min_variance=0.01, max_rto=1.0, backoff_factor=2.0
    )
    assert (rto.rtt, rto.rttvar, rto.current) == (0.1, 0.0, 0.2)
    rto.sample(0.05)
    assert rto.rttvar == pytest.approx(0.0125)
    assert rto.rtt == pytest.approx(0.09375)
    assert rto.current == pytest.approx(0.14375)
    rto.sample(0.09375)  # no deviation: the 10 ms floor applies once RTTVAR is small
    for _ in range(40):
        rto.sample(0.09375)
    assert rto.current == pytest.approx(0.09375 + 0.01, abs=1e-4)
    rto.sample(5.0)
    assert rto.current == 1.0  # capped
    for _ in range(60):
        rto.sample(0.1)
    before = rto.current
    assert before == pytest.approx(0.11, abs=1e-3)
    rto.timed_out()
    assert rto.current == pytest.approx(2 * before)
    for _ in range(5):
        rto.timed_out()
    assert rto.current == 1.0  # the backoff is capped too
    rto.sample(0.1)  # a valid sample clears the backoff
    assert rto.current == pytest.approx(before, abs=1e-3)


def test_ready_client_has_the_expected_rto() -> None:
    client = ready_client()
    assert client.stats.rtt == pytest.approx(0.09375)
    assert client.stats.rto == pytest.approx(RTO_AFTER_HANDSHAKE)


# ---- retransmission ----------------------------------------------------------------------


def test_draining_frames_runs_no_timers_only_tick_does() -> None:
    client = ready_client(CoreConfig(rate_limit=None))
    client.send(b"x", 1.0)
    assert data_seqs(client.frames_to_send(1.0)) == [1]
    late = 1.0 + 10 * RTO_AFTER_HANDSHAKE
    assert client.frames_to_send(late) == []  # the RTO passed, but nobody ticked
    assert client.stats.retransmissions == 0
    client.tick(late)
    assert data_seqs(client.frames_to_send(late)) == [1]
    assert client.stats.retransmissions == 1


def test_retransmission_follows_rto_with_backoff() -> None:
    client = ready_client(CoreConfig(rate_limit=None, max_rto=1.0))
    client.send(b"x", 1.0)
    assert data_seqs(drain(client, 1.0)) == [1]
    r = RTO_AFTER_HANDSHAKE
    expected = [1.0 + r]
    for factor in (2, 4, 8, 16, 32):
        expected.append(expected[-1] + min(1.0, r * factor))
    resent_at = []
    now = 1.0
    while len(resent_at) < len(expected):
        deadline = client.next_deadline()
        assert deadline is not None
        # Polling every 100 ms in between (the plugin's loop) must not resend early.
        while now + 0.1 < deadline:
            now += 0.1
            assert drain(client, now) == []
        now = deadline
        assert data_seqs(drain(client, now)) == [1]
        resent_at.append(now)
    assert resent_at == pytest.approx(expected)
    assert client.stats.retransmissions == len(expected)


def test_retransmission_once_per_rto_without_backoff() -> None:
    client = ready_client(CoreConfig(rate_limit=None, rto_backoff=1.0))
    client.send(b"x", 1.0)
    drain(client, 1.0)
    r = RTO_AFTER_HANDSHAKE
    sent = []
    for step in range(1, 100):
        now = 1.0 + step * 0.01
        if data_seqs(drain(client, now)):
            sent.append(now)
    # resent once per RTO: at 1+r rounded up to the 10 ms poll, then every r from there
    assert len(sent) == pytest.approx(0.99 / r, abs=1.5)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert all(r - 1e-9 <= g <= r + 0.01 + 1e-9 for g in gaps)


def test_a_round_trip_over_a_second_is_not_taken_for_loss() -> None:
    # Acks that come back 1.5 s after the send (a receiver working through a deep queue)
    # must raise the RTO above 1.5 s; a 1 s cap resent every message in flight, every second.
    client = ready_client(CoreConfig(rate_limit=None))
    now = 1.0
    for _ in range(40):
        client.send(b"x", now)
        (message,) = data_messages(drain(client, now))
        now += 1.5
        client.receive(ack_for("input_stream_data", message.sequence_number), now)
        assert drain(client, now) == []
    assert client.stats.rtt == pytest.approx(1.5, rel=0.01)
    assert client.stats.rto > 1.5
    assert client.stats.retransmissions == 0


def test_every_expired_message_is_resent_not_only_the_oldest() -> None:
    client = ready_client(CoreConfig(rate_limit=None, rto_backoff=1.0))
    client.send(b"a" * 3000, 1.0)
    assert data_seqs(drain(client, 1.0)) == [1, 2, 3]
    client.send(b"b", 1.05)
    assert data_seqs(drain(client, 1.05)) == [4]
    r = RTO_AFTER_HANDSHAKE
    assert client.next_deadline() == pytest.approx(1.0 + r)
    assert data_seqs(drain(client, 1.0 + r)) == [1, 2, 3]
    assert data_seqs(drain(client, 1.05 + r)) == [4]


def test_acked_message_is_not_resent_and_karn_rule_skips_resent_samples() -> None:
    client = ready_client(CoreConfig(rate_limit=None))
    client.send(b"x", 1.0)
    drain(client, 1.0)
    r = RTO_AFTER_HANDSHAKE
    assert data_seqs(drain(client, 1.0 + r)) == [1]
    rtt_before = client.stats.rtt
    client.receive(ack_for("input_stream_data", 1), 1.0 + r + 0.5)
    assert client.stats.rtt == rtt_before  # ambiguous sample ignored
    assert client.all_acknowledged()
    assert client.next_deadline() is None
    client.send(b"y", 3.0)
    drain(client, 3.0)
    client.receive(ack_for("input_stream_data", 2), 3.03)
    assert client.stats.rtt == pytest.approx(0.875 * rtt_before + 0.125 * 0.03)


def test_unmatched_ack_is_ignored() -> None:
    client = ready_client()
    client.receive(ack_for("input_stream_data", 99), 1.0)
    assert client.events() == []
    assert client.stats.extra["acks_unmatched"] == 1


# ---- receiving ---------------------------------------------------------------------------


def test_out_of_order_is_acked_buffered_and_delivered_in_order() -> None:
    client = ready_client()  # expects agent seq 2 next
    for seq in (4, 3):
        client.receive(make_frame("output_stream_data", seq, f"m{seq}".encode()), 1.0)
    assert acked_sequences(drain(client, 1.0)) == [4, 3]
    assert client.events() == []
    client.receive(make_frame("output_stream_data", 2, b"m2"), 1.1)
    assert acked_sequences(drain(client, 1.1)) == [2]
    assert client.events() == [DataReceived(b"m2"), DataReceived(b"m3"), DataReceived(b"m4")]
    assert client.stats.bytes_received == 6


def test_duplicates_are_acked_but_delivered_once() -> None:
    client = ready_client()
    frame = make_frame("output_stream_data", 2, b"once")
    ahead = make_frame("output_stream_data", 5, b"later")
    client.receive(frame, 1.0)
    client.receive(ahead, 1.0)
    client.receive(frame, 1.1)  # duplicate of a delivered message
    client.receive(ahead, 1.1)  # duplicate of a buffered one
    assert acked_sequences(drain(client, 1.1)) == [2, 5, 2, 5]
    assert client.events() == [DataReceived(b"once")]
    assert client.stats.duplicates_received == 2


def test_in_order_output_is_acked_by_its_own_id_and_delivered_once() -> None:
    client = ready_client()
    before = (client.stats.messages_received, client.stats.bytes_received)
    frame = make_frame("output_stream_data", 2, b"fast")
    client.receive(frame, 1.0)  # the next in order: the receive fast path
    client.receive(frame, 1.0)  # the same again: a duplicate, through the full decoder
    assert client.events() == [DataReceived(b"fast")]
    acks = [AckPayload.from_json(m.payload) for m in decoded(drain(client, 1.0)) if m.is_ack]
    expected = (2, "output_stream_data", decode(frame).message_id)
    assert [(a.sequence_number, a.message_type, a.message_id) for a in acks] == [expected] * 2
    after = (client.stats.messages_received, client.stats.bytes_received)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 4)
    assert client.stats.duplicates_received == 1


def test_messages_beyond_the_receive_buffer_are_dropped_unacked() -> None:
    client = ready_client(CoreConfig(receive_buffer=2))
    client.receive(make_frame("output_stream_data", 3, b"fits"), 1.0)
    client.receive(make_frame("output_stream_data", 4, b"too far"), 1.0)
    assert acked_sequences(drain(client, 1.0)) == [3]
    assert client.stats.extra["dropped_beyond_receive_buffer"] == 1


def test_malformed_frames_are_rejected_and_counted() -> None:
    client = ready_client()
    good = make_frame("output_stream_data", 2, b"hello")
    bad_digest = bytearray(good)
    bad_digest[-1] ^= 0xFF
    frames = [
        b"",
        b"\x00" * 50,
        good[:119],
        bytes(bad_digest),
        make_frame("acknowledge", 0, b"{broken", 0, 3),
        make_frame("acknowledge", 0, b'{"AcknowledgedMessageSequenceNumber":"x"}', 0, 3),
        make_frame("input_stream_data", 0, b"wrong direction"),
        make_frame("output_stream_data", 2, b"\x00\x01\x02", PayloadType.FLAG),
    ]
    for frame in frames:
        client.receive(frame, 1.0)
    events = client.events()
    assert len(events) == len(frames)
    assert all(isinstance(e, FrameRejected) for e in events)
    assert client.stats.frames_rejected == len(frames)
    assert drain(client, 1.0) == []
    client.receive(good, 1.1)  # the channel goes on
    assert client.events() == [DataReceived(b"hello")]


def test_unknown_message_types_are_ignored() -> None:
    client = ready_client()
    state = b'{"SchemaVersion":1,"SessionState":"Connected","SessionId":"s"}'
    client.receive(make_frame("agent_session_state", 0, state, 0), 1.0)
    client.receive(make_frame("something_new", 7, b"?", 0), 1.0)
    assert client.events() == []
    assert client.stats.frames_rejected == 0
    assert drain(client, 1.0) == []


# ---- sending -----------------------------------------------------------------------------


def test_payloads_are_split_at_max_payload_and_not_rewritten() -> None:
    client = ready_client(CoreConfig(rate_limit=None))
    client.send(b"\n", 1.0)
    assert [m.payload for m in data_messages(drain(client, 1.0))] == [b"\n"]
    client.send(bytes(3000), 1.01)
    sizes = [len(m.payload) for m in data_messages(drain(client, 1.01))]
    assert sizes == [1024, 1024, 952]
    for _ in range(100):
        client.send(b"0123456789", 1.02)  # small writes coalesce into one message
    assert [len(m.payload) for m in data_messages(drain(client, 1.02))] == [1000]
    assert client.stats.bytes_sent == 1 + 3000 + 1000


def test_back_pressure_accepts_only_what_fits_and_never_loses_bytes() -> None:
    client = ready_client(CoreConfig(rate_limit=None, send_buffer=4096, send_window=4))
    payload = bytes(random.Random(3).randbytes(20000))
    assert client.writable() == 4096
    assert client.send(payload, 1.0) == 4096
    assert client.writable() == 0
    assert client.send(payload[4096:], 1.0) == 0
    frames = drain(client, 1.0)  # window of 4 messages: 4096 bytes framed
    assert data_seqs(frames) == [1, 2, 3, 4]
    assert client.writable() == 4096
    assert client.send(payload[4096:], 1.0) == 4096
    assert drain(client, 1.0) == []  # window full
    assert client.writable() == 0
    client.receive(ack_for("input_stream_data", 2), 1.05)  # any ack frees a slot
    assert data_seqs(drain(client, 1.05)) == [5]
    assert client.writable() == 1024
    assert client.in_flight == 4


def test_window_span_stops_selective_acks_from_overrunning_the_peer() -> None:
    client = ready_client(CoreConfig(rate_limit=None, send_window=100, send_span=4))
    client.send(bytes(8 * 1024), 1.0)
    assert data_seqs(drain(client, 1.0)) == [1, 2, 3, 4]
    client.receive(ack_for("input_stream_data", 3), 1.05)
    client.receive(ack_for("input_stream_data", 4), 1.05)
    assert drain(client, 1.05) == []  # seq 1 still holds the lower edge
    assert client.in_flight == 2
    client.receive(ack_for("input_stream_data", 1), 1.06)
    assert data_seqs(drain(client, 1.06)) == [5]  # the edge is now seq 2
    client.receive(ack_for("input_stream_data", 2), 1.07)
    assert data_seqs(drain(client, 1.07)) == [6, 7, 8]


def test_back_pressure_through_a_lossy_link_delivers_every_byte() -> None:
    config = CoreConfig(rate_limit=None, send_buffer=3000, send_window=3)
    link = Link.pair(config, fate=Faults(loss=0.2, dup=0.1, reorder=0.3).fate(random.Random(7)))
    source = Source(link.client.core, 200_000, seed=11, block=7777)
    link.sources.append(source)
    link.run(until=600.0, stop=lambda: len(link.agent.received) >= 200_000)
    assert source.done
    assert link.agent.digest.digest() == source.digest.digest()
    assert len(link.agent.received) == 200_000


# ---- pacing ------------------------------------------------------------------------------


def test_pacing_holds_the_rate_and_counts_retransmissions() -> None:
    client = ready_client(CoreConfig(rate_limit=100.0, rate_burst=5, pace_batch=1))
    client.send(bytes(200 * 1024), 1.0)
    released: list[float] = []
    now = 1.0
    while now < 3.0:
        frames = drain(client, now)
        released.extend(now for _ in data_messages(frames))
        deadline = client.next_deadline()
        assert deadline is not None and deadline > now - 1e-12
        now = max(deadline, now + 1e-6)
    assert client.stats.retransmissions > 0  # nothing was acked: resends compete for tokens
    for start in (1.0, 1.5, 2.0):
        window = [t for t in released if start <= t < start + 1.0]
        assert len(window) <= 100 + 5
    assert len([t for t in released if 1.0 <= t < 2.0]) >= 100
    # the first burst goes at once, then one message every 10 ms
    assert released[:5] == [1.0] * 5
    assert released[5] == pytest.approx(1.01)


def test_a_backlog_goes_in_batches_of_tokens_at_the_same_rate() -> None:
    client = ready_client(CoreConfig(rate_limit=100.0, rate_burst=8, pace_batch=4))
    client.send(bytes(100 * 1024), 1.0)
    bursts: list[tuple[float, int]] = []
    now = 1.0
    while now < 2.0:
        sent = len(data_messages(drain(client, now)))
        if sent:
            bursts.append((round(now, 6), sent))
        deadline = client.next_deadline()
        assert deadline is not None
        now = max(deadline, now + 1e-6)
    # the full bucket first, then one wake-up per 4 tokens (40 ms at 100/s), never one by one
    assert bursts[0] == (1.0, 8)
    assert all(count == 4 for _, count in bursts[1:])
    assert bursts[1][0] == pytest.approx(1.04)
    assert sum(count for t, count in bursts if t < 2.0) <= 100 + 8


def test_a_single_message_does_not_wait_for_a_batch() -> None:
    client = ready_client(CoreConfig(rate_limit=100.0, rate_burst=8, pace_batch=4))
    client.send(bytes(8 * 1024), 1.0)
    assert len(data_messages(drain(client, 1.0))) == 8  # the bucket is empty now
    client.send(b"k", 1.0)
    assert client.next_deadline() == pytest.approx(1.01)  # one token, not four
    assert len(data_messages(drain(client, 1.01))) == 1


def test_acks_are_not_paced() -> None:
    client = ready_client(CoreConfig(rate_limit=1.0, rate_burst=1))
    client.send(bytes(5000), 1.0)
    assert len(data_messages(drain(client, 1.0))) == 1
    for seq in range(2, 12):
        client.receive(make_frame("output_stream_data", seq, b"x"), 1.0)
    frames = drain(client, 1.0)
    assert acked_sequences(frames) == list(range(2, 12))
    assert data_messages(frames) == []
    # the unacked message is due for a resend, but the resend waits for a token too
    assert client.next_deadline() == pytest.approx(1.0 + RTO_AFTER_HANDSHAKE)
    assert drain(client, 1.0 + RTO_AFTER_HANDSHAKE) == []
    assert client.next_deadline() == pytest.approx(2.0)
    assert data_seqs(drain(client, 2.0)) == [1]


def test_link_pacing_stays_under_the_service_ceiling() -> None:
    link = Link.pair(CoreConfig(rate_limit=960.0, rate_burst=16))
    link.client.record = True
    source = Source(link.client.core, 3 << 20, seed=5)
    link.sources.append(source)
    link.run(until=60.0, stop=lambda: len(link.agent.received) >= 3 << 20)
    times = [t for t, f in link.client.sent_frames if decoded([f])[0].message_type != "acknowledge"]
    assert len(times) >= 3072
    for i in range(len(times)):
        j = i
        while j < len(times) and times[j] < times[i] + 1.0:
            j += 1
        assert j - i <= 960 + 16
        if j == len(times):
            break
    assert link.now > 3.0  # 3072 messages cannot go faster than ~3.2 s at 960/s


# ---- pause / start publication -----------------------------------------------------------


def test_client_pauses_until_start_publication() -> None:
    client = ready_client(CoreConfig(rate_limit=None))
    client.receive(make_frame("pause_publication", 0, b"", 0), 1.0)
    assert client.events() == [PublicationPaused()]
    assert client.paused and client.stats.pauses_received == 1
    client.send(b"held", 1.0)
    assert drain(client, 1.0) == []
    client.receive(make_frame("output_stream_data", 2, b"in"), 1.1)  # does not resume a client
    assert acked_sequences(drain(client, 1.1)) == [2]  # but acks still go
    assert client.events() == [DataReceived(b"in")]
    assert client.next_deadline() is None
    client.receive(make_frame("start_publication", 0, b"", 0), 5.0)
    assert client.events() == [PublicationResumed()]
    assert [m.payload for m in data_messages(drain(client, 5.0))] == [b"held"]


def test_paused_client_does_not_retransmit() -> None:
    client = ready_client(CoreConfig(rate_limit=None))
    client.send(b"x", 1.0)
    drain(client, 1.0)
    client.receive(make_frame("pause_publication", 0, b"", 0), 1.01)
    assert drain(client, 3.0) == []
    client.receive(make_frame("start_publication", 0, b"", 0), 3.0)
    assert data_seqs(drain(client, 3.0)) == [1]


@pytest.mark.parametrize("resumer", ["start", "ack", "input"])
def test_agent_resumes_on_start_ack_or_input(resumer: str) -> None:
    link = Link.pair(CoreConfig(rate_limit=None))
    link.run(until=1.0, stop=lambda: link.agent.core.state is State.READY)
    link.run_for(0.1)
    agent = link.agent.core
    agent.events()
    agent.receive(make_frame("pause_publication", 0, b"", 0), link.now)
    agent.send(b"held", link.now)
    assert data_messages(drain(agent, link.now)) == []
    trigger = {
        "start": make_frame("start_publication", 0, b"", 0),
        "ack": ack_for("output_stream_data", 77),
        "input": make_frame("input_stream_data", 1, b"typing"),
    }[resumer]
    agent.receive(trigger, link.now)
    events = agent.events()
    assert events[:2] == [PublicationPaused(), PublicationResumed()]
    assert [m.payload for m in data_messages(drain(agent, link.now))] == [b"held"]


# ---- flags -------------------------------------------------------------------------------


def test_flags_travel_both_ways_in_order_with_data() -> None:
    link = Link.pair()
    client, agent = link.client.core, link.agent.core
    link.client.record = True
    client.send(b"abc", 0.0)
    client.send_flag(Flag.DISCONNECT_TO_PORT, 0.0)
    client.send(b"def", 0.0)
    link.run(until=5.0, stop=lambda: len(link.agent.received) >= 6)
    received = [e for e in link.agent.events if isinstance(e, DataReceived | FlagReceived)]
    assert received == [DataReceived(b"abc"), FlagReceived(1), DataReceived(b"def")]
    flag = next(
        m for m in data_messages([f for _, f in link.client.sent_frames]) if m.payload_type == 10
    )
    assert flag.payload == b"\x00\x00\x00\x01"
    agent.send_flag(Flag.CONNECT_TO_PORT_ERROR, link.now)
    link.run(until=10.0, stop=lambda: FlagReceived(3) in link.client.events)
    assert FlagReceived(3) in link.client.events


# ---- closing -----------------------------------------------------------------------------


def test_agent_close_channel_reaches_the_client() -> None:
    link = Link.pair()
    link.run(until=5.0, stop=lambda: link.client.core.state is State.READY)
    link.agent.core.close_channel(link.now, "Session terminated by user", "sess-42")
    assert link.agent.core.state is State.CLOSED
    link.run(until=10.0, stop=lambda: link.client.core.state is State.CLOSED)
    assert ChannelClosed("Session terminated by user", "sess-42") in link.client.events
    with pytest.raises(ChannelClosedError):
        link.client.core.send(b"x", link.now)
    with pytest.raises(ChannelClosedError):
        link.client.core.send_flag(Flag.TERMINATE_SESSION, link.now)
    assert link.client.core.writable() == 0


@pytest.mark.parametrize(
    ("payload", "payload_type", "expected"),
    [
        (b'{"Output":"bye","SessionId":"s-1","MessageType":"channel_closed"}', 261, ("bye", "s-1")),
        (b'{"Output":"","SessionId":"s-2"}', 0, ("", "s-2")),
        (b"\xff\xfe garbage", 1, ("", "")),
        (b'{"Output":5}', 1, ("", "")),
    ],
)
def test_channel_closed_is_parsed_tolerantly(
    payload: bytes, payload_type: int, expected: tuple[str, str]
) -> None:
    client = ready_client()
    client.receive(make_frame("channel_closed", 0, payload, payload_type), 1.0)
    assert client.events() == [ChannelClosed(*expected)]
    assert client.state is State.CLOSED
    assert client.next_deadline() is None


def test_close_channel_frame_carries_output_and_session_id() -> None:
    agent = AgentChannelCore(0.0)
    agent.start_session(0.0, "Standard_Stream")
    agent.close_channel(1.0, "done", "sess-7")
    (frame,) = decoded(drain(agent, 1.0))
    assert frame.message_type == "channel_closed"
    body = json.loads(frame.payload)
    assert (body["Output"], body["SessionId"], body["MessageType"]) == (
        "done",
        "sess-7",
        "channel_closed",
    )


# ---- reconnects --------------------------------------------------------------------------


def test_reconnect_resends_everything_unacked_and_loses_nothing() -> None:
    link = Link.pair(CoreConfig(rate_limit=None))
    link.run(until=5.0, stop=lambda: link.client.core.state is State.READY)
    client = link.client.core
    client.send(bytes(range(256)) * 40, link.now)  # 10 messages
    link.pump()  # on the wire now ...
    in_flight = client.in_flight
    assert in_flight == 10
    link.disconnect()  # ... and lost with the websocket
    assert drain(client, link.now + 5) == []
    assert client.next_deadline() is None
    link.now += 2.0
    link.client.record = True
    link.reconnect()
    assert data_seqs([f for _, f in link.client.sent_frames]) == list(range(1, 11))
    link.run(until=link.now + 5.0, stop=lambda: len(link.agent.received) >= 10240)
    assert bytes(link.agent.received) == bytes(range(256)) * 40
    assert link.agent.core.stats.duplicates_received == 0


def test_reconnect_after_delivery_but_before_acks_is_deduplicated() -> None:
    link = Link.pair(CoreConfig(rate_limit=None))
    link.run(until=5.0, stop=lambda: link.client.core.state is State.READY)
    link.client.core.send(b"exactly once", link.now)
    # deliver the data, then drop the connection before the ack comes back
    link.run(until=10.0, stop=lambda: bool(link.agent.received))
    link.disconnect()
    link.reconnect()
    link.run(until=link.now + 5.0, stop=lambda: link.client.core.all_acknowledged())
    assert bytes(link.agent.received) == b"exactly once"
    assert link.agent.core.stats.duplicates_received == 1
