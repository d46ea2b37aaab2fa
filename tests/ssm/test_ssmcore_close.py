"""channel_closed while the agent's output is incomplete: the client never reports a short
stream as a clean end when it can tell (a gap: later messages arrived, an earlier one did not).

CI once saw a reader get a clean EOF 354 messages short of 16 MiB
(tests/ssm/channel/test_bulk.py, drops + loss + reordering): the emulator sent channel_closed
with output still unacked, and the client closed at once, gap or not. These run the same
situation on the virtual-clock link, exactly.
"""

from __future__ import annotations

import random

import pytest

from bridge.ssm.codec import MessageType, decode
from bridge.ssm.core import ChannelClosed, CoreConfig, State

from .ssmcore_link import Fate, Faults, Link

PAYLOAD = bytes(range(256)) * 40  # 10 KiB: ten 1024-byte messages
SESSION = ("the session ended", "sess-1")


def _hit_once(seq: int, copies: list[float]) -> Fate:
    """A clean 10 ms link, except that the agent's data message ``seq`` (its first sending only)
    gets ``copies`` as its fate: [] loses it, [0.2] delays it behind later frames."""
    pending = [seq]

    def decide(direction: str, frame: bytes) -> list[float]:
        if direction == "agent" and pending:
            message = decode(frame)
            if (
                message.message_type == MessageType.OUTPUT_STREAM_DATA.value
                and message.sequence_number == pending[0]
            ):
                pending.clear()
                return copies
        return [0.01]

    return decide


def _sent_then_closed(fate: Fate, *, after: float = 0.05) -> Link:
    """Ready Port session; the agent sends PAYLOAD, and ``after`` seconds later (before its
    RTO could resend anything) its session ends: close_channel with output still unacked."""
    link = Link.pair(fate=fate)
    link.run(until=5.0, stop=lambda: link.client.core.state is State.READY)
    link.run_for(0.1)  # the handshake's last acks settle
    agent = link.agent.core
    first_data = agent.stats.messages_sent  # PT5, PT7: data starts at sequence 2
    assert agent.send(PAYLOAD, link.now) == len(PAYLOAD)
    link.run_for(after)
    assert agent.stats.messages_sent == first_data + 10
    agent.close_channel(link.now, *SESSION)
    return link


def _closed_event(link: Link) -> ChannelClosed:
    (closed,) = [e for e in link.client.events if isinstance(e, ChannelClosed)]
    return closed


def test_a_lost_message_before_channel_closed_is_not_a_clean_end() -> None:
    link = _sent_then_closed(_hit_once(5, []))  # the 4th data message (seq 5) never arrives
    assert link.agent.core.in_flight == 1  # the agent's session ended with it unacked
    client = link.client
    link.run(until=10.0, stop=lambda: client.core.state is not State.READY)
    assert client.core.state is State.DRAINING  # a gap is known: wait for it to fill
    waited_from = link.now
    link.run(until=10.0, stop=lambda: client.core.state is State.CLOSED)
    assert link.now - waited_from == pytest.approx(
        CoreConfig().close_grace
    )  # the agent is gone: nothing fills it
    assert bytes(client.received) == PAYLOAD[: 3 * 1024]  # in order, up to the gap
    assert _closed_event(link) == ChannelClosed(*SESSION, complete=False)


def test_data_overtaken_by_channel_closed_is_waited_for() -> None:
    """On a reordering link channel_closed can arrive before the agent's last messages: the
    client waits (``close_grace``) and the end is clean once the gap has filled."""
    link = _sent_then_closed(_hit_once(5, [0.2]))  # seq 5 arrives 0.15 s after channel_closed
    link.run(until=10.0)
    assert bytes(link.client.received) == PAYLOAD
    assert _closed_event(link) == ChannelClosed(*SESSION, complete=True)
    assert link.client.core.state is State.CLOSED


def test_a_drop_while_waiting_ends_incomplete_at_once() -> None:
    """channel_closed ended the session: no resume can bring the missing data any more."""
    link = _sent_then_closed(_hit_once(5, []))
    client = link.client
    link.run(until=10.0, stop=lambda: client.core.state is not State.READY)
    assert client.core.state is State.DRAINING
    link.disconnect()
    client.take_events()
    assert client.core.state is State.CLOSED
    assert _closed_event(link) == ChannelClosed(*SESSION, complete=False)


def test_no_gap_closes_at_once_and_clean() -> None:
    link = _sent_then_closed(_hit_once(5, [0.01]), after=0.1)  # everything arrived
    client = link.client
    link.run(until=10.0, stop=lambda: client.core.state is not State.READY)
    assert client.core.state is State.CLOSED
    assert bytes(client.received) == PAYLOAD
    assert _closed_event(link) == ChannelClosed(*SESSION, complete=True)


def test_while_waiting_the_client_acks_late_data_and_sends_nothing_else() -> None:
    link = _sent_then_closed(_hit_once(5, [0.2]))
    client = link.client
    link.run(until=10.0, stop=lambda: client.core.state is State.DRAINING)
    assert client.core.writable() == 0
    assert client.core.send(b"late", link.now) == 0  # as on a socket the peer closed
    client.record = True
    link.run(until=10.0)
    acked = [decode(frame) for _, frame in client.sent_frames]
    assert [m.message_type for m in acked] == [MessageType.ACKNOWLEDGE.value]
    assert client.core.state is State.CLOSED


def _lossy_session(seed: int) -> Link:
    """Lossy, duplicating, reordering both ways; channel_closed (the service's own) is only
    delayed, as in the emulator's fault injection."""
    lossy = Faults(loss=0.1, dup=0.05, reorder=0.3, reorder_delay=0.05).fate(random.Random(seed))
    closed = MessageType.CHANNEL_CLOSED.value

    def fate(direction: str, frame: bytes) -> list[float]:
        return [0.01] if decode(frame).message_type == closed else lossy(direction, frame)

    link = Link.pair(CoreConfig(rate_limit=None), fate=fate)
    link.run(until=30.0, stop=lambda: link.client.core.state is State.READY)
    return link


def test_seeded_ends_are_short_only_when_not_clean() -> None:
    """The agent ends at a random moment with output unacked: whatever the faults, what the
    client delivered is a prefix, and a clean end with known missing data never happens."""
    truncated = 0
    for seed in range(40):
        link = _lossy_session(seed)
        payload = random.Random(seed).randbytes(64 * 1024)
        link.agent.core.send(payload, link.now)
        link.run_for(random.Random(seed).uniform(0.0, 0.05))
        link.agent.core.close_channel(link.now, *SESSION)
        link.run(until=link.now + 10.0)
        received = bytes(link.client.received)
        assert payload.startswith(received)
        if not _closed_event(link).complete:
            truncated += 1
            assert len(received) < len(payload)
    assert truncated > 10  # the case under test did happen


def test_seeded_ends_after_every_ack_are_complete() -> None:
    """What the emulator's clean end does: close only once everything is acknowledged."""
    for seed in range(20):
        link = _lossy_session(seed)
        payload = random.Random(seed).randbytes(64 * 1024)
        link.agent.core.send(payload, link.now)
        link.run(until=link.now + 30.0, stop=link.agent.core.all_acknowledged)
        link.agent.core.close_channel(link.now, *SESSION)
        link.run(until=link.now + 10.0)
        assert bytes(link.client.received) == payload
        assert _closed_event(link).complete
