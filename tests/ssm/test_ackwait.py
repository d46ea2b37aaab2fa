"""``SequencedCore.ack_wait``: how long the read loop may leave the agent's acks unread while
our own send is paced with a backlog (an upload), so that they are read on the next pacing
tick instead of waking us between two ticks; never for interactive use, never into our RTO."""

from __future__ import annotations

import pytest

from bridge.ssm._sender import ACK_WAIT_MARGIN
from bridge.ssm.core import CoreConfig, State

from .ssmcore_link import Link

PACED = CoreConfig(rate_limit=960.0, rate_burst=32, pace_batch=28)
ACK_DELAY = 0.001  # the agent's acks reach our socket a millisecond after each burst
STEP = 0.0005


def _ready(config: CoreConfig) -> Link:
    link = Link.pair(config, agent_config=CoreConfig(rate_limit=None))
    client, agent = link.client.core, link.agent.core
    link.run(until=5.0, stop=lambda: client.state is agent.state is State.READY)
    link.run_for(0.5)  # the handshake's last acks delivered: the link is idle
    return link


def test_no_wait_without_a_paced_backlog() -> None:
    link = _ready(PACED)
    client, now = link.client.core, link.now
    assert client.ack_wait(now) == 0.0  # idle
    client.send(b"ls\n", now)  # a keystroke: a request waits for its answer, never held
    assert client.ack_wait(now) == 0.0
    unthrottled = _ready(CoreConfig(rate_limit=None))
    unthrottled.client.core.send(bytes(1 << 20), unthrottled.now)
    assert unthrottled.client.core.ack_wait(unthrottled.now) == 0.0


def test_a_backlog_waits_a_batch_interval_at_most_and_ends_before_the_rto() -> None:
    link = _ready(PACED)
    client, now = link.client.core, link.now
    client.send(bytes(1 << 20), now)
    assert client.ack_wait(now) == pytest.approx(28 / 960.0)  # nothing in flight yet
    client.frames_to_send(now)  # a burst leaves: its retransmission timer runs
    rto = client.stats.rto or 0.0
    later = now + 0.002
    wait = client.ack_wait(later)
    assert 0 < wait <= 28 / 960.0
    assert later + wait <= now + max(rto, wait) - ACK_WAIT_MARGIN + 1e-9


def _paced_upload(rule: bool, seconds: float) -> tuple[int, int, int, int]:
    """Our paced upload (``SequencedCore`` to ``SequencedCore`` on a virtual clock) with the
    agent acking every burst at once; we read the acks as the read loop does: at once, or,
    with ``rule``, held for ``ack_wait`` and read on the next pacing tick (whatever has come;
    nothing come: held again). (reads between ticks, ticks, resends, messages sent)."""
    link = _ready(PACED)
    client, agent = link.client.core, link.agent.core
    now, end = link.now, link.now + seconds
    sent_before = client.stats.messages_sent
    inbox: list[tuple[float, bytes]] = []
    held_until, between, ticks = now, 0, 0
    while now < end:
        if client.writable() > 1 << 19:
            client.send(bytes(1 << 19), now)
        deadline = client.next_deadline()
        tick = deadline is not None and deadline <= now
        if tick:
            ticks += 1
            client.tick(now)
            agent.receive_batch(client.frames_to_send(now), now)
            agent.events()
            inbox += [(now + ACK_DELAY, ack) for ack in agent.frames_to_send(now)]
        arrived = [ack for at, ack in inbox if at <= now]
        if arrived and (tick or now >= held_until):
            between += not tick
            inbox = inbox[len(arrived) :]
            client.receive_batch(arrived, now)
            client.events()
        if rule and (tick or (arrived and now >= held_until)):
            held_until = now + client.ack_wait(now)
        now += STEP
    messages = client.stats.messages_sent - sent_before
    return between, ticks, client.stats.retransmissions, messages


def test_acks_held_for_the_tick_are_read_on_it_and_nothing_is_resent() -> None:
    """Read at once, every burst's acks were a read (a wake-up) of their own between two
    ticks; held, after the first few reads (our RTO learning the longer round trip) they
    are read on the tick, at the same rate and with nothing resent."""
    between, ticks, resent, messages = _paced_upload(rule=False, seconds=3.0)
    assert between >= ticks - 2 and resent == 0
    between, ticks, resent, held_messages = _paced_upload(rule=True, seconds=3.0)
    assert between <= 5, (between, ticks)
    assert resent == 0
    assert held_messages >= messages - 28  # the rate is the bucket's, unchanged
