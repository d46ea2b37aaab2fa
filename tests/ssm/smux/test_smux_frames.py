"""smux v1 frames: golden bytes written by hand from the layout, and reassembly from any split."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.ssm.smux_proto import Cmd, Frame, FrameDecoder, SmuxProtocolError

# ver | cmd | len (uint16 LE) | sid (uint32 LE) | data
SYN_3 = bytes.fromhex("01 00 0000 03000000")
PSH_3_HI = bytes.fromhex("01 02 0200 03000000 6869")
FIN_3 = bytes.fromhex("01 01 0000 03000000")
NOP_0 = bytes.fromhex("01 03 0000 00000000")
PSH_BIG_SID = bytes.fromhex("01 02 0300 04030201 616263")  # sid 0x01020304, len 3


def test_golden_encodings() -> None:
    assert Frame(Cmd.SYN, 3).encode() == SYN_3
    assert Frame(Cmd.PSH, 3, b"hi").encode() == PSH_3_HI
    assert Frame(Cmd.FIN, 3).encode() == FIN_3
    assert Frame(Cmd.NOP, 0).encode() == NOP_0
    assert Frame(Cmd.PSH, 0x01020304, b"abc").encode() == PSH_BIG_SID


def test_length_is_little_endian() -> None:
    frame = Frame(Cmd.PSH, 5, b"x" * 0x1234).encode()
    assert frame[:8] == bytes.fromhex("01 02 3412 05000000")


def test_payload_over_uint16_is_refused() -> None:
    with pytest.raises(ValueError):
        Frame(Cmd.PSH, 3, b"x" * 65536).encode()


GOLDEN_STREAM = SYN_3 + PSH_3_HI + NOP_0 + PSH_BIG_SID + FIN_3
GOLDEN_FRAMES = [
    Frame(Cmd.SYN, 3),
    Frame(Cmd.PSH, 3, b"hi"),
    Frame(Cmd.NOP, 0),
    Frame(Cmd.PSH, 0x01020304, b"abc"),
    Frame(Cmd.FIN, 3),
]


def test_decode_whole() -> None:
    assert FrameDecoder().feed(GOLDEN_STREAM) == GOLDEN_FRAMES


def test_decode_byte_by_byte() -> None:
    decoder = FrameDecoder()
    frames: list[Frame] = []
    for i in range(len(GOLDEN_STREAM)):
        frames += decoder.feed(GOLDEN_STREAM[i : i + 1])
    assert frames == GOLDEN_FRAMES
    assert decoder.buffered == 0


def test_decode_random_splits() -> None:
    rng = random.Random(1234)
    stream = GOLDEN_STREAM * 50 + Frame(Cmd.PSH, 7, rng.randbytes(32768)).encode()
    expected = GOLDEN_FRAMES * 50 + [Frame(Cmd.PSH, 7, stream[-32768:])]
    for _ in range(20):
        decoder = FrameDecoder()
        frames: list[Frame] = []
        pos = 0
        while pos < len(stream):
            n = rng.randint(1, 1024)  # SSM Output payloads are at most 1024 bytes
            frames += decoder.feed(stream[pos : pos + n])
            pos += n
        assert frames == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (bytes.fromhex("02 00 0000 03000000"), "version"),
        (bytes.fromhex("01 04 0800 03000000") + bytes(8), "unknown"),  # UPD is v2 only
        (bytes.fromhex("01 09 0000 03000000"), "unknown"),
        (bytes.fromhex("01 00 0100 03000000 00"), "payload"),
        (bytes.fromhex("01 03 0400 00000000 00000000"), "payload"),
    ],
)
def test_protocol_errors(raw: bytes, why: str) -> None:
    with pytest.raises(SmuxProtocolError, match=why):
        FrameDecoder().feed(raw)


frames_st = st.lists(
    st.one_of(
        st.builds(Frame, st.sampled_from([Cmd.SYN, Cmd.FIN, Cmd.NOP]), st.integers(0, 2**32 - 1)),
        st.builds(
            Frame, st.just(Cmd.PSH), st.integers(0, 2**32 - 1), st.binary(min_size=0, max_size=3000)
        ),
    ),
    max_size=20,
)


@given(frames=frames_st, cuts=st.lists(st.integers(0, 70000), max_size=30))
def test_round_trip_any_split(frames: list[Frame], cuts: list[int]) -> None:
    wire = b"".join(f.encode() for f in frames)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    decoder = FrameDecoder()
    decoded: list[Frame] = []
    for a, b in itertools.pairwise(points):
        decoded += decoder.feed(wire[a:b])
    assert decoded == frames
    assert decoder.buffered == 0
