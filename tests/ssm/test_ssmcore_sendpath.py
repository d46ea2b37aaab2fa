"""The send path's per-wake-up rules: how a backlog is paced by default, and ``has_output``,
which lets the writer skip a wake-up that has nothing to send (docs/design/efficiency.md,
"The upload path: fewer wake-ups per burst")."""

from __future__ import annotations

import pytest

from bridge.ssm._rto import RtoEstimator
from bridge.ssm.core import CoreConfig

from .ssmcore_link import ack_for, data_messages, drain, make_frame, ready_client


def test_the_default_pacing_sends_a_backlog_in_bursts_of_28_within_the_ceiling() -> None:
    """960 messages/s with a 32-token bucket: the full bucket first, then 28 messages per
    wake-up (29.2 ms apart: 4 ms of slack for a late timer; 16 per wake-up before), never more than 992 in any second."""
    config = CoreConfig()
    client = ready_client(config)
    client.send(bytes(config.send_buffer), 1.0)
    bursts: list[tuple[float, int]] = []
    now = 1.0
    while now < 3.0:
        sent = data_messages(drain(client, now))
        if sent:
            bursts.append((now, len(sent)))
        for message in sent:  # acked at once: no resends in the way
            client.receive(ack_for("input_stream_data", message.sequence_number), now)
        deadline = client.next_deadline()
        if deadline is None:  # all sent and acked
            break
        now = max(deadline, now + 1e-6)
    assert sum(count for _, count in bursts) == config.send_buffer // config.max_payload
    assert bursts[0] == (1.0, 32)
    assert {count for _, count in bursts[1:-1]} == {28}  # the last one takes the rest
    assert bursts[2][0] - bursts[1][0] == pytest.approx(28 / 960)
    for start, _ in bursts:
        assert sum(count for t, count in bursts if start <= t < start + 1.0) <= 992


def test_has_output_says_whether_frames_to_send_would_send() -> None:
    client = ready_client(CoreConfig(rate_limit=100.0, rate_burst=8, pace_batch=4))
    assert not client.has_output(1.0)  # nothing queued
    client.send(bytes(20 * 1024), 1.0)
    assert client.has_output(1.0)
    assert len(data_messages(drain(client, 1.0))) == 8
    # the bucket is empty: a wake-up now (an ack read, more bytes to send) has nothing to do
    client.send(bytes(1024), 1.0)
    assert not client.has_output(1.0)
    assert not client.has_output(1.039)
    assert client.frames_to_send(1.039) == []
    assert client.has_output(1.04)  # four tokens: the next batch
    # an ack to send is output at once, whatever the bucket says
    client.frames_to_send(1.04)
    assert not client.has_output(1.041)
    client.receive(make_frame("output_stream_data", 2, b"x"), 1.041)
    assert client.has_output(1.041)
    assert client.frames_to_send(1.041) != []


def test_has_output_is_false_while_disconnected_or_paused() -> None:
    client = ready_client(CoreConfig(rate_limit=None))
    client.send(b"abc", 1.0)
    client.connection_lost(1.0)
    assert not client.has_output(1.0)
    client.connection_resumed(1.1)
    assert client.has_output(1.1)
    client.receive(make_frame("pause_publication", 0, b"", 0), 1.1)
    client.frames_to_send(1.1)
    assert not client.has_output(1.1)


def test_equal_rtt_samples_at_once_match_one_by_one() -> None:
    def estimator() -> RtoEstimator:
        return RtoEstimator(
            initial_rtt=0.1, initial_rto=0.2, min_variance=0.01, max_rto=3.0, backoff_factor=2.0
        )

    one_by_one, at_once = estimator(), estimator()
    for seconds, count in ((0.004, 30), (0.02, 1), (0.0, 7)):
        for _ in range(count):
            one_by_one.sample(seconds)
        at_once.sample(seconds, count)
        assert (at_once.rtt, at_once.rttvar, at_once.rto) == (
            one_by_one.rtt,
            one_by_one.rttvar,
            one_by_one.rto,
        )


def test_a_read_of_acks_samples_each_timed_message_once_in_order() -> None:
    """Two bursts' acks in one read, one ack unmatched: the estimate is that of one sample
    per message, burst by burst, as one ack at a time gave it."""
    client = ready_client(CoreConfig(rate_limit=None))
    client.send(bytes(3 * 1024), 1.0)
    client.frames_to_send(1.0)  # seqs 1..3 at 1.0
    client.send(bytes(2 * 1024), 1.01)
    client.frames_to_send(1.01)  # seqs 4, 5 at 1.01
    acks = [ack_for("input_stream_data", seq) for seq in (1, 2, 3, 99, 4, 5)]
    client.receive_batch(acks, 1.02)
    expected = RtoEstimator(
        initial_rtt=0.1, initial_rto=0.2, min_variance=0.01, max_rto=3.0, backoff_factor=2.0
    )
    for seconds in (0.05, *[1.02 - 1.0] * 3, *[1.02 - 1.01] * 2):  # ready_client's first
        expected.sample(seconds)
    assert (client.stats.rtt, client.stats.rto) == (expected.rtt, expected.current)
    assert client.stats.extra["acks_unmatched"] == 1
    assert client.in_flight == 0


def test_acks_of_resent_messages_are_not_timed() -> None:
    client = ready_client(CoreConfig(rate_limit=None))
    client.send(bytes(2 * 1024), 1.0)
    client.frames_to_send(1.0)
    client.tick(2.0)  # both timed out: resent
    client.frames_to_send(2.0)
    before = (client.stats.rtt, client.stats.rto)
    client.receive_batch([ack_for("input_stream_data", seq) for seq in (1, 2)], 2.01)
    assert (client.stats.rtt, client.stats.rto) == before  # Karn
    assert client.in_flight == 0
