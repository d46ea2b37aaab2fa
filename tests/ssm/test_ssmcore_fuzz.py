"""100 000 mutated frames into the codec and both cores: rejected or handled, never a crash.

The corpus is every frame of a real session between the two cores (handshake, data, flags,
acks, pauses, channel_closed); mutations are seeded bit flips, truncations, splices, header
field rewrites and random bytes, half of them re-signed so that the payload parsers (JSON
handshake bodies, acks, flags) see the damage instead of the digest check stopping it.
"""

from __future__ import annotations

import hashlib
import random
import struct
import time

import pytest

from bridge.ssm.agent_core import AgentChannelCore
from bridge.ssm.client_core import ClientChannelCore
from bridge.ssm.codec import Flag, FrameError, decode
from bridge.ssm.core import (
    CoreConfig,
    State,
)
from bridge.ssm.sequenced import SequencedCore

from .ssmcore_link import Link, make_frame

FRAMES = 100_000


def corpus() -> list[bytes]:
    link = Link.pair(CoreConfig(rate_limit=None))
    link.client.record = link.agent.record = True
    link.client.core.send(b"SSH-2.0-OpenSSH_9.6\r\n" * 100, 0.0)
    link.client.core.send_flag(Flag.DISCONNECT_TO_PORT, 0.0)
    link.run(until=5.0, stop=lambda: link.client.core.state is State.READY)
    link.agent.core.send(b"SSH-2.0-Go\r\n" * 200, link.now)
    link.agent.core.send_flag(Flag.CONNECT_TO_PORT_ERROR, link.now)
    link.run(until=10.0, stop=lambda: len(link.client.received) >= 2400)
    link.agent.core.close_channel(link.now, "bye", "sess")
    link.pump()
    frames = [f for _, f in link.client.sent_frames + link.agent.sent_frames]
    frames += [
        make_frame("pause_publication", 0, b"", 0),
        make_frame("start_publication", 0, b"", 0),
        make_frame("channel_closed", 0, b'{"Output":"x","SessionId":"s"}', 261),
        make_frame("agent_session_state", 0, b'{"SessionState":"Connected"}', 0),
    ]
    assert len(frames) > 20
    return frames


def resign(frame: bytearray) -> None:
    """Fix the digest (and length) so the mutated payload reaches the parsers."""
    if len(frame) >= 120:
        (header_length,) = struct.unpack_from(">I", frame, 0)
        start = min(max(header_length + 4, 120), len(frame))
        payload = bytes(frame[start:])
        frame[80:112] = hashlib.sha256(payload).digest()
        struct.pack_into(">I", frame, 116, len(payload))


def mutate(rng: random.Random, frames: list[bytes]) -> bytes:
    frame = bytearray(rng.choice(frames))
    kind = rng.randrange(7)
    if kind == 0:  # bit flips
        for _ in range(rng.randint(1, 8)):
            if frame:
                bit = rng.randrange(len(frame) * 8)
                frame[bit // 8] ^= 1 << (bit % 8)
    elif kind == 1:  # truncation
        frame = frame[: rng.randrange(len(frame) + 1)]
    elif kind == 2:  # splice of two valid frames
        other = rng.choice(frames)
        frame = frame[: rng.randrange(len(frame) + 1)] + other[rng.randrange(len(other) + 1) :]
    elif kind == 3:  # a header field rewritten
        offset, size = rng.choice([(0, 4), (36, 4), (40, 8), (48, 8), (56, 8), (112, 4), (116, 4)])
        value = rng.choice([0, 1, 2, 3, 5, 6, 7, 10, 116, 120, 2**31, rng.getrandbits(size * 8)])
        frame[offset : offset + size] = (value % (1 << (size * 8))).to_bytes(size, "big")
    elif kind == 4:  # payload bytes mangled
        for _ in range(rng.randint(1, 4)):
            if len(frame) > 120:
                frame[rng.randrange(120, len(frame))] = rng.randrange(256)
    elif kind == 5:  # payload replaced by JSON-ish junk
        junk = rng.choice(
            [
                b"{}",
                b"[]",
                b"null",
                b'{"RequestedClientActions":[{}]}',
                b"{" * 50,
                b'"x"',
                b'{"AcknowledgedMessageSequenceNumber":-5}',
                b'{"ProcessedClientActions":[1]}',
                b'{"HandshakeTimeToComplete":"x"}',
                b"\xff" * 10,
                b"1e999",
                b"[" * 5000,
            ]
        )
        frame = frame[:120] + junk
    else:  # random bytes
        frame = bytearray(rng.randbytes(rng.randrange(200)))
    if rng.random() < 0.5:
        resign(frame)
    return bytes(frame)


def fresh_core(kind: int, now: float) -> SequencedCore:
    if kind == 0:
        return ClientChannelCore(now)
    agent = AgentChannelCore(now)
    agent.start_session(now, "Port" if kind == 1 else "Standard_Stream", {"portNumber": "22"})
    return agent


@pytest.mark.long
def test_hundred_thousand_mutated_frames_never_crash() -> None:
    rng = random.Random(20261125)
    frames = corpus()
    started = time.process_time()
    cores = [fresh_core(kind, 0.0) for kind in range(3)]
    decoded_ok = rejected = accepted = 0
    for i in range(FRAMES):
        now = i * 0.001
        frame = mutate(rng, frames)
        try:
            decode(frame)
            decoded_ok += 1
        except FrameError:
            rejected += 1
        for kind, core in enumerate(cores):
            if core.state in (State.CLOSED, State.FAILED) or i % 5000 == 0:
                core = cores[kind] = fresh_core(kind, now)  # back to the handshake states
            before = core.stats.frames_rejected
            core.receive(frame, now)
            accepted += core.stats.frames_rejected == before
        if i % 64 == 0:
            for core in cores:
                core.tick(now)
                core.frames_to_send(now)
                core.events()
                core.next_deadline()
                if core.state not in (State.CLOSED, State.FAILED):
                    core.send(b"x" * 100, now)
    cpu = time.process_time() - started
    assert decoded_ok > 10_000 and rejected > 10_000  # the mutations reached both outcomes
    assert accepted > 30_000  # the cores' deeper paths ran, not only the decoder's checks
    assert cpu < 60
