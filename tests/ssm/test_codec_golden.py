"""Golden vectors hand-written from docs/design/ssm-protocol.md, never produced by the codec.

Each frame below is spelled out field by field from the header table of ssm-protocol.md §2
(offsets 0..120, big-endian; upstream: the plugin's ``src/message/clientmessage.go`` and the
agent's ``agent/session/contracts/agentmessage.go``), with the acknowledge layout and payload of
§2 and §5; only the SHA-256 digests were computed, with hashlib, and are checked here.
"""

import hashlib
import uuid
from typing import Any

import pytest

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

MESSAGE_ID = uuid.UUID("dd01e56b-ff48-483e-a508-b5f073f31b16")
CREATED_MS = 1_700_000_000_000  # 0x0000018bcfe56800

ACK_PAYLOAD = (
    b'{"AcknowledgedMessageType":"output_stream_data",'
    b'"AcknowledgedMessageId":"0b6b1c6e-4bd4-4c8e-9b9a-3f1f2e7d5c10",'
    b'"AcknowledgedMessageSequenceNumber":42,"IsSequentialMessage":true}'
)
ACK_DIGEST = "2f8d6aab71be49d8a7387ebf01cb2261b1f09c4b425ee7b73fe87a4cb733ab0f"
ACK_FRAME_HEX = (
    "00000074"  # HeaderLength 116
    "61636b6e6f776c65646765"  # "acknowledge" (11 bytes)
    + "20"
    * 21  # padded with spaces to 32 bytes
    + "00000001"  # SchemaVersion 1
    "0000018bcfe56800"  # CreatedDate 1700000000000 ms
    "0000000000000000"  # SequenceNumber 0
    "0000000000000003"  # Flags 3
    "a508b5f073f31b16dd01e56bff48483e"  # MessageId, halves swapped
    + ACK_DIGEST  # PayloadDigest
    + "00000000"  # PayloadType 0
    "000000b1"  # PayloadLength 177
)

HANDSHAKE_PAYLOAD = (
    b'{"AgentVersion":"3.3.1802.0","RequestedClientActions":[{"ActionType":"SessionType",'
    b'"ActionParameters":{"SessionType":"Port","Properties":{"portNumber":"22"}}}]}'
)
HANDSHAKE_DIGEST = "671ba53eb5525c7d96b242a683b080ca064e86565b9a27b4ca31f6d3c9edb841"
HANDSHAKE_FRAME_HEX = (
    "00000074"
    "6f75747075745f73747265616d5f64617461"  # "output_stream_data" (18 bytes)
    + "20"
    * 14
    + "00000001"
    "0000018bcfe56800"
    "0000000000000000"  # seq 0
    "0000000000000001"  # Flags 1 (SYN) on the agent's first message
    "a508b5f073f31b16dd01e56bff48483e"
    + HANDSHAKE_DIGEST
    + "00000005"  # PayloadType 5 HandshakeRequest
    "000000a0"  # PayloadLength 160
)


def test_uuid_halves_are_swapped_on_the_wire() -> None:
    value = uuid.UUID("dd01e56b-ff48-483e-a508-b5f073f31b16")
    wire = bytes.fromhex("a508b5f073f31b16dd01e56bff48483e")
    assert uuid_to_wire(value) == wire
    assert uuid_from_wire(wire) == value


def test_digests_in_the_vectors_are_sha256_of_the_payloads() -> None:
    assert len(ACK_PAYLOAD) == 0xB1
    assert len(HANDSHAKE_PAYLOAD) == 0xA0
    assert hashlib.sha256(ACK_PAYLOAD).hexdigest() == ACK_DIGEST
    assert hashlib.sha256(HANDSHAKE_PAYLOAD).hexdigest() == HANDSHAKE_DIGEST


def test_acknowledge_frame_byte_for_byte() -> None:
    frame = bytes.fromhex(ACK_FRAME_HEX) + ACK_PAYLOAD
    assert len(frame) == 120 + 177
    message = ClientMessage(
        message_type="acknowledge",
        sequence_number=0,
        payload=ACK_PAYLOAD,
        payload_type=0,
        flags=3,
        message_id=MESSAGE_ID,
        created_date=CREATED_MS,
    )
    assert encode(message) == frame
    decoded = decode(frame)
    assert decoded == message
    assert decoded.is_ack
    ack = AckPayload.from_json(decoded.payload)
    assert ack.sequence_number == 42
    assert ack.message_type == "output_stream_data"
    assert ack.message_id == uuid.UUID("0b6b1c6e-4bd4-4c8e-9b9a-3f1f2e7d5c10")
    assert ack.to_json() == ACK_PAYLOAD


def test_core_fast_path_writes_the_same_acknowledge_frame() -> None:
    frame = _wire.ack_frame(
        "output_stream_data", "0b6b1c6e-4bd4-4c8e-9b9a-3f1f2e7d5c10", 42, CREATED_MS
    )
    expected = bytes.fromhex(ACK_FRAME_HEX) + ACK_PAYLOAD
    # Everything but the (random) MessageId is fixed.
    assert frame[:64] == expected[:64]
    assert frame[80:] == expected[80:]
    assert uuid_from_wire(frame[64:80]).version == 4


def test_ack_fast_path_reads_the_golden_acknowledge() -> None:
    frame = bytes.fromhex(ACK_FRAME_HEX) + ACK_PAYLOAD
    assert _wire.ack_sequence(frame) == 42


@pytest.mark.parametrize(
    "body",
    [
        ACK_PAYLOAD.replace(b":42,", b": 42,"),  # whitespace
        ACK_PAYLOAD.replace(b',"IsSequentialMessage":true', b""),  # a field left out
        b'{"AcknowledgedMessageSequenceNumber":42,' + ACK_PAYLOAD[1:].replace(b',"Ack', b',"X', 1),
        ACK_PAYLOAD.replace(b":42,", b":42.0,"),  # not an integer
        ACK_PAYLOAD.replace(b":42,", b":042,"),  # not canonical JSON
    ],
)
def test_ack_fast_path_leaves_any_other_shape_to_the_full_decoder(body: bytes) -> None:
    header = bytearray.fromhex(ACK_FRAME_HEX)
    header[80:112] = hashlib.sha256(body).digest()
    header[116:120] = len(body).to_bytes(4, "big")
    assert _wire.ack_sequence(bytes(header) + body) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.__setitem__(slice(80, 81), bytes([f[80] ^ 1])),  # digest
        lambda f: f.__setitem__(slice(40, 48), bytes(8)),  # CreatedDate 0
        lambda f: f.__setitem__(slice(0, 4), bytes(4)),  # HeaderLength 0
        lambda f: f.__setitem__(slice(4, 15), b"acknowledgf"),  # another type
    ],
)
def test_ack_fast_path_steps_aside_for_a_damaged_frame(change: Any) -> None:
    frame = _valid_ack_frame()
    change(frame)
    assert _wire.ack_sequence(bytes(frame)) is None


def test_handshake_request_frame_byte_for_byte() -> None:
    frame = bytes.fromhex(HANDSHAKE_FRAME_HEX) + HANDSHAKE_PAYLOAD
    decoded = decode(frame)
    assert decoded.message_type == "output_stream_data"
    assert decoded.sequence_number == 0
    assert decoded.flags == 1
    assert decoded.payload_type == 5
    assert decoded.message_id == MESSAGE_ID
    assert decoded.created_date == CREATED_MS
    assert decoded.payload == HANDSHAKE_PAYLOAD
    assert encode(decoded) == frame
    fast = _wire.pack(
        _wire.padded_type("output_stream_data"),
        CREATED_MS,
        0,
        1,
        uuid_to_wire(MESSAGE_ID),
        5,
        HANDSHAKE_PAYLOAD,
    )
    assert fast == frame


def test_payload_starts_at_header_length_plus_four() -> None:
    payload = b"hello"
    header = bytearray.fromhex(
        "00000078"  # HeaderLength 120: the payload moves 4 bytes further
        "6f75747075745f73747265616d5f64617461" + "20" * 14 + "00000001"
        "0000018bcfe56800"
        "0000000000000007"
        "0000000000000000"
        "a508b5f073f31b16dd01e56bff48483e" + hashlib.sha256(payload).hexdigest() + "00000001"
        "00000005"
    )
    frame = bytes(header) + b"\xde\xad\xbe\xef" + payload
    decoded = decode(frame)
    assert decoded.payload == payload
    assert decoded.sequence_number == 7
    # PayloadLength is ignored: a wrong one changes nothing.
    frame2 = bytes(header[:116]) + bytes.fromhex("00000999") + b"\xde\xad\xbe\xef" + payload
    assert decode(frame2).payload == payload


def _valid_ack_frame() -> bytearray:
    return bytearray(bytes.fromhex(ACK_FRAME_HEX) + ACK_PAYLOAD)


def test_short_frame_is_rejected() -> None:
    with pytest.raises(FrameError):
        decode(bytes(_valid_ack_frame()[:119]))


def test_bad_digest_is_rejected() -> None:
    frame = _valid_ack_frame()
    frame[80] ^= 0x01
    with pytest.raises(FrameError):
        decode(bytes(frame))
    # ... unless the caller opts out (the agent never checks digests)
    assert decode(bytes(frame), check_digest=False).payload == ACK_PAYLOAD


def test_zero_created_date_is_rejected() -> None:
    frame = _valid_ack_frame()
    frame[40:48] = bytes(8)
    with pytest.raises(FrameError):
        decode(bytes(frame))


def test_zero_header_length_is_rejected() -> None:
    frame = _valid_ack_frame()
    frame[0:4] = bytes(4)
    with pytest.raises(FrameError):
        decode(bytes(frame))


@pytest.mark.parametrize("kind", ["start_publication", "pause_publication"])
def test_publication_messages_with_bogus_length_and_digest_are_accepted(kind: str) -> None:
    name = kind.encode().hex()
    frame = bytes.fromhex(
        "00000074" + name + "20" * (32 - len(kind)) + "00000001"
        "0000018bcfe56800"
        "0000000000000000"
        "0000000000000000"
        "a508b5f073f31b16dd01e56bff48483e"
        + "ab"
        * 32  # not the digest of anything
        + "00000000"
        "00001000"  # claims 4096 bytes, carries none
    )
    decoded = decode(frame)
    assert decoded.message_type == kind
    assert decoded.payload == b""


def test_deeply_nested_json_payload_is_a_frame_error_not_a_crash() -> None:
    # json.loads raises RecursionError (not ValueError) past the nesting limit.
    with pytest.raises(FrameError):
        AckPayload.from_json(b"[" * 100_000)


def _output_frame(payload: bytes = b"some ssh bytes", seq: int = 7) -> bytearray:
    return bytearray(
        encode(
            ClientMessage(
                "output_stream_data", seq, payload, 1, 0, MESSAGE_ID, created_date=CREATED_MS
            )
        )
    )


def test_data_fast_path_reads_what_the_decoder_reads() -> None:
    frame = bytes(_output_frame())
    full = decode(frame)
    head = _wire.message_head("output_stream_data")
    assert head == frame[:36]
    assert _wire.data_message(frame, head) == (7, uuid_to_wire(MESSAGE_ID), full.payload)
    assert _wire.id_text(uuid_to_wire(MESSAGE_ID)) == str(MESSAGE_ID)
    # the other direction's type is not this side's
    assert _wire.data_message(frame, _wire.message_head("input_stream_data")) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.__setitem__(slice(-1, None), bytes([f[-1] ^ 1])),  # payload: digest fails
        lambda f: f.__setitem__(slice(80, 81), bytes([f[80] ^ 1])),  # digest
        lambda f: f.__setitem__(slice(40, 48), bytes(8)),  # CreatedDate 0
        lambda f: f.__setitem__(slice(0, 4), (120).to_bytes(4, "big")),  # payload moved
        lambda f: f.__setitem__(slice(112, 116), (10).to_bytes(4, "big")),  # a Flag
        lambda f: f.__setitem__(slice(116, 120), (99).to_bytes(4, "big")),  # PayloadLength
        lambda f: f.__setitem__(slice(22, 23), b"\x00"),  # padded with NUL, not spaces
        lambda f: f.__delitem__(slice(120, None)),  # no payload
    ],
)
def test_data_fast_path_steps_aside_for_anything_unusual(change: Any) -> None:
    frame = _output_frame()
    change(frame)
    assert _wire.data_message(bytes(frame), _wire.message_head("output_stream_data")) is None
