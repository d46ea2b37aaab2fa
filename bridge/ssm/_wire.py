"""A fast path for the frames the core handles most: data messages and acks, both ways.

``codec.encode`` builds a ClientMessage and a UUID object per frame, and ``codec.decode`` plus
``AckPayload.from_json`` a ClientMessage, a JSON round trip and a UUID per ack; at ~1000
messages/s each way that was a large share of the channel's CPU. This packs the same 120-byte
header straight from the values, writes the acknowledge body from a template, and reads an
acknowledge frame of the shape every real peer writes with one regular expression, answering
None (use the full decoder) for anything else. ``data_message`` does the same for a plain
Output data message: the fields the receiver needs, its digest checked, no ClientMessage and
no UUID object; ``ack_frames`` builds the acks of a batch of them at once. Tests check all of it byte for byte against the
codec and the hand-written vectors, and that the fast reading agrees with the full one.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
from collections.abc import Callable

from bridge.ssm.codec import HEADER_LENGTH, HEADER_SIZE, MessageFlags, MessageType

_ACK_TYPE = MessageType.ACKNOWLEDGE.value.encode().ljust(32, b" ")
_ACK_HEAD = HEADER_LENGTH.to_bytes(4, "big") + _ACK_TYPE  # bytes 0..36 of a standard ack
_ACK_BODY = re.compile(
    rb'\{"AcknowledgedMessageType":"[a-z_]{1,32}",'
    rb'"AcknowledgedMessageId":"[0-9a-fA-F-]{36}",'
    rb'"AcknowledgedMessageSequenceNumber":(0|[1-9][0-9]{0,18}),'
    rb'"IsSequentialMessage":(?:true|false)\}'
)
_DATA_TAIL = struct.Struct(">qQ16s32sII")  # header bytes 48..120: sequence .. PayloadLength
_ACK_FIXED = struct.Struct(">I32sIQqQ")  # bytes 0..64 of an ack: the same for a whole batch
_FIXED = struct.Struct(">I32sIQ")  # bytes 0..48 of any frame: the same for a batch of one type
_LENGTHS = struct.Struct(">II")  # PayloadType, PayloadLength
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))  # RFC 4122 variant bits, by translate
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_NO_DATE = bytes(8)
_OUTPUT = 1  # PayloadType.OUTPUT
_ID_POOL = 256  # wire ids drawn per call of the randomness source


class WireIds:
    """Random version-4 message ids in wire order, drawn ``_ID_POOL`` at a time: one call of
    the randomness source (a getrandom syscall for ``os.urandom``) per 256 messages, not one
    per message."""

    __slots__ = ("_at", "_pool", "_random_bytes")

    def __init__(self, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self._random_bytes = random_bytes
        self._pool = b""
        self._at = 0

    def __call__(self) -> bytes:
        at = self._at
        if at >= len(self._pool):
            self._refill()
            at = 0
        self._at = at + 16
        pool = self._pool
        return pool[at + 8 : at + 16] + pool[at : at + 8]

    def _refill(self) -> None:
        """Draw the next pool and set every id's version and variant bits in two passes
        (the same ids ``_as_wire_id`` makes of the same random bytes)."""
        raw = bytearray(self._random_bytes(16 * _ID_POOL))
        raw[6::16] = raw[6::16].translate(_VERSION_4)
        raw[8::16] = raw[8::16].translate(_VARIANT)
        self._pool = bytes(raw)


def new_wire_id(random_bytes: Callable[[int], bytes] = os.urandom) -> bytes:
    """A random version-4 UUID, already in wire order (halves swapped)."""
    return _as_wire_id(random_bytes(16))


def _as_wire_id(random: bytes) -> bytes:
    raw = bytearray(random)
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return bytes(raw[8:] + raw[:8])


def ack_sequence(frame: bytes) -> int | None:
    """The acknowledged sequence number of a standard acknowledge frame, else None.

    Standard: HeaderLength 116, the type space-padded, a non-zero CreatedDate, the body exactly
    as the plugin, the agent and ``ack_frame`` write it, and a matching digest. None means
    "not sure": the caller runs the full decoder, which accepts or rejects as it always did.
    """
    if not frame.startswith(_ACK_HEAD) or frame[40:48] == _NO_DATE:
        return None
    payload = frame[HEADER_SIZE:]
    match = _ACK_BODY.fullmatch(payload)
    if match is None or hashlib.sha256(payload).digest() != frame[80:112]:
        return None
    return int(match.group(1))


def data_message(frame: bytes, head: bytes) -> tuple[int, bytes, bytes] | None:
    """(sequence, wire id, payload) of a standard Output data message, else None.

    ``head`` is ``message_head(type)`` of the type this side receives. Standard: that head
    (HeaderLength 116, the type space-padded), a non-zero CreatedDate, PayloadType Output, a
    PayloadLength equal to the payload's and not 0, and a matching digest: the receiver's
    check of ``codec.decode`` (docs/design/ssm-protocol.md, "What is checked"), done here.
    None means "not sure": the caller runs the full decoder, which accepts or rejects.
    """
    if len(frame) <= HEADER_SIZE or not frame.startswith(head) or frame[40:48] == _NO_DATE:
        return None
    sequence, _flags, wire_id, digest, payload_type, length = _DATA_TAIL.unpack_from(frame, 48)
    payload = frame[HEADER_SIZE:]
    if payload_type != _OUTPUT or length != len(payload):
        return None
    if hashlib.sha256(payload).digest() != digest:
        return None
    return sequence, wire_id, payload


def id_text(wire_id: bytes) -> str:
    """``str(codec.uuid_from_wire(wire_id))`` without the UUID object (the id an ack names)."""
    a = wire_id[8:16].hex()
    b = wire_id[0:8].hex()
    return f"{a[:8]}-{a[8:12]}-{a[12:]}-{b[:4]}-{b[4:]}"


def message_head(message_type: str) -> bytes:
    """The first 36 bytes of a standard frame of ``message_type``."""
    return HEADER_LENGTH.to_bytes(4, "big") + padded_type(message_type)


def padded_type(message_type: str) -> bytes:
    return message_type.encode("ascii").ljust(32, b" ")


def pack(
    type_field: bytes,
    created_ms: int,
    sequence: int,
    flags: int,
    wire_id: bytes,
    payload_type: int,
    payload: bytes,
) -> bytes:
    """One frame with the codec's exact bytes (the 120-byte header, then the payload)."""
    head = fixed_head(type_field, created_ms)
    return pack_after(head, sequence, flags, wire_id, payload_type, payload)


def fixed_head(type_field: bytes, created_ms: int) -> bytes:
    """Header bytes 0..48 (HeaderLength, the padded type, SchemaVersion 1, CreatedDate): what
    every frame of one type framed in one batch shares; ``pack_after`` writes the rest."""
    return _FIXED.pack(HEADER_LENGTH, type_field, 1, created_ms)


def pack_after(
    head: bytes,
    sequence: int,
    flags: int,
    wire_id: bytes,
    payload_type: int,
    payload: bytes | bytearray,
) -> bytes:
    """``pack`` of a frame whose first 48 bytes are ``head`` (``fixed_head``)."""
    digest = hashlib.sha256(payload).digest()
    tail = _DATA_TAIL.pack(sequence, flags, wire_id, digest, payload_type, len(payload))
    return b"".join((head, tail, payload))


def ack_frame(
    acked_type: str,
    acked_id: str,
    acked_sequence: int,
    created_ms: int,
    wire_id: bytes | None = None,
) -> bytes:
    """An acknowledge frame (seq 0, flags 3, PT 0) with codec.AckPayload's exact JSON.

    ``wire_id`` is its MessageId in wire order (a fresh random one when None)."""
    payload = _ack_body(acked_type, acked_id, acked_sequence)
    return pack(_ACK_TYPE, created_ms, 0, MessageFlags.ACK, wire_id or new_wire_id(), 0, payload)


def _ack_body(acked_type: str, acked_id: str, acked_sequence: int) -> bytes:
    """codec.AckPayload's exact JSON (the acked type is one of ours: an ASCII constant)."""
    return (
        f'{{"AcknowledgedMessageType":"{acked_type}","AcknowledgedMessageId":"{acked_id}",'
        f'"AcknowledgedMessageSequenceNumber":{acked_sequence},"IsSequentialMessage":true}}'
    ).encode()


def ack_frames(
    acked_type: str, acked: list[tuple[int, bytes]], created_ms: int, wire_ids: WireIds
) -> list[bytes]:
    """``ack_frame`` for each (sequence, wire id of the acked message) of one batch, byte for
    byte: the header's fixed part packed once, the ids formatted from the wire bytes."""
    head = _ACK_FIXED.pack(HEADER_LENGTH, _ACK_TYPE, 1, created_ms, 0, MessageFlags.ACK)
    sha256 = hashlib.sha256
    lengths = _LENGTHS.pack
    frames: list[bytes] = []
    for sequence, wire_id in acked:
        payload = _ack_body(acked_type, id_text(wire_id), sequence)
        digest = sha256(payload).digest()
        frames.append(b"".join((head, wire_ids(), digest, lengths(0, len(payload)), payload)))
    return frames
