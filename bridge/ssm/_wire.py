"""A fast path for the frames the core emits most: data messages and acks.

``codec.encode`` builds a ClientMessage and a UUID object per frame; at 64 MiB each way that is
a large share of the channel's CPU. This packs the same 120-byte header straight from the
values (tests check it byte for byte against ``codec.encode`` and the hand-written vectors).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable

from bridge.ssm.codec import HEADER_LENGTH, MessageFlags, MessageType

_HEADER = struct.Struct(">I32sIQqQ16s32sII")  # the codec's layout; tests compare the bytes
_ACK_TYPE = MessageType.ACKNOWLEDGE.value.encode().ljust(32, b" ")


def new_wire_id(random_bytes: Callable[[int], bytes] = os.urandom) -> bytes:
    """A random version-4 UUID, already in wire order (halves swapped)."""
    raw = bytearray(random_bytes(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return bytes(raw[8:] + raw[:8])


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
    return (
        _HEADER.pack(
            HEADER_LENGTH,
            type_field,
            1,
            created_ms,
            sequence,
            flags,
            wire_id,
            hashlib.sha256(payload).digest(),
            payload_type,
            len(payload),
        )
        + payload
    )


def ack_frame(
    acked_type: str,
    acked_id: str,
    acked_sequence: int,
    created_ms: int,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """An acknowledge frame (seq 0, flags 3, PT 0) with codec.AckPayload's exact JSON."""
    payload = (
        f'{{"AcknowledgedMessageType":"{acked_type}","AcknowledgedMessageId":"{acked_id}",'
        f'"AcknowledgedMessageSequenceNumber":{acked_sequence},"IsSequentialMessage":true}}'
    ).encode()
    return pack(_ACK_TYPE, created_ms, 0, MessageFlags.ACK, new_wire_id(random_bytes), 0, payload)
