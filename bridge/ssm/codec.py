"""The binary ClientMessage frame of the SSM data channel, and its small JSON payloads.

Every binary websocket frame after the first text frame is one ClientMessage: a 120-byte
big-endian header and a payload (docs/design/ssm-protocol.md §2). The quirks that make a
naive codec fail against the real service live here and nowhere else:

* HeaderLength is written as 116 (the offset of PayloadLength), and receivers take the payload
  from ``HeaderLength + 4``, ignoring PayloadLength, as the plugin and the agent both do.
* MessageType is right-padded with spaces; readers strip NULs and whitespace.
* The MessageId UUID is stored with its two 8-byte halves swapped.
* ``start_publication`` / ``pause_publication`` arrive with bogus lengths and digests, so the
  digest check is skipped for them (as the plugin's ``Validate`` does).
"""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

__all__ = [
    "HEADER_LENGTH",
    "HEADER_SIZE",
    "MAX_PAYLOAD",
    "AckPayload",
    "ClientMessage",
    "Flag",
    "FrameError",
    "MessageFlags",
    "MessageType",
    "PayloadType",
    "decode",
    "encode",
    "flag_payload",
    "json_payload",
    "parse_flag",
    "uuid_from_wire",
    "uuid_to_wire",
]

_HEADER = struct.Struct(">I32sIQqQ16s32sII")
HEADER_SIZE = _HEADER.size  # 120
HEADER_LENGTH = 116  # the value written in the HeaderLength field: the offset of PayloadLength
MAX_PAYLOAD = 1024  # StreamDataPayloadSize: what the plugin and the agent put in one message


class FrameError(ValueError):
    """A received frame that cannot be a valid ClientMessage. The channel counts it and goes on."""


class MessageType(StrEnum):
    INPUT_STREAM_DATA = "input_stream_data"
    OUTPUT_STREAM_DATA = "output_stream_data"
    ACKNOWLEDGE = "acknowledge"
    CHANNEL_CLOSED = "channel_closed"
    START_PUBLICATION = "start_publication"
    PAUSE_PUBLICATION = "pause_publication"
    AGENT_SESSION_STATE = "agent_session_state"


class PayloadType(IntEnum):
    OUTPUT = 1
    ERROR = 2
    SIZE = 3
    PARAMETER = 4
    HANDSHAKE_REQUEST = 5
    HANDSHAKE_RESPONSE = 6
    HANDSHAKE_COMPLETE = 7
    ENC_CHALLENGE_REQUEST = 8
    ENC_CHALLENGE_RESPONSE = 9
    FLAG = 10
    STDERR = 11
    EXIT_CODE = 12


class Flag(IntEnum):
    """Values of a Flag payload (a 4-byte big-endian uint32)."""

    DISCONNECT_TO_PORT = 1
    TERMINATE_SESSION = 2
    CONNECT_TO_PORT_ERROR = 3


class MessageFlags(IntEnum):
    """Bits of the header's Flags field."""

    SYN = 1
    FIN = 2
    ACK = 3  # what acknowledge messages carry (SYN|FIN), as the real peers write it


_UNCHECKED_TYPES = frozenset({MessageType.START_PUBLICATION, MessageType.PAUSE_PUBLICATION})


def uuid_to_wire(value: uuid.UUID) -> bytes:
    """The 16 MessageId bytes: the UUID's second half first (the Go ``putUuid`` order)."""
    raw = value.bytes
    return raw[8:] + raw[:8]


def uuid_from_wire(raw: bytes) -> uuid.UUID:
    """The UUID of 16 wire bytes. Built as ``UUID.__setstate__`` (unpickling) does: every
    received frame carries one, and ``UUID(bytes=...)`` re-checks what 16 bytes always are."""
    value = _new_object(uuid.UUID)
    _set_attr(value, "int", int.from_bytes(raw[8:16] + raw[0:8], "big"))
    _set_attr(value, "is_safe", uuid.SafeUUID.unknown)
    return value


_new_object = object.__new__
_set_attr = object.__setattr__


@dataclass(frozen=True, slots=True)
class ClientMessage:
    message_type: str
    sequence_number: int
    payload: bytes = b""
    payload_type: int = 0
    flags: int = 0
    message_id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_date: int = 0  # Unix epoch milliseconds; encode() fills 0 in with the current time
    schema_version: int = 1

    @property
    def is_ack(self) -> bool:
        return self.message_type == MessageType.ACKNOWLEDGE


def encode(message: ClientMessage, *, now_ms: int | None = None) -> bytes:
    """Serialise one message as the real peers do (HeaderLength 116, space padding, swap)."""
    type_bytes = message.message_type.encode("ascii")
    if len(type_bytes) > 32:
        raise ValueError(f"message type too long: {message.message_type!r}")
    created = message.created_date or now_ms
    if not created:
        raise ValueError("CreatedDate must not be 0")
    header = _HEADER.pack(
        HEADER_LENGTH,
        type_bytes.ljust(32, b" "),
        message.schema_version,
        created,
        message.sequence_number,
        message.flags,
        uuid_to_wire(message.message_id),
        hashlib.sha256(message.payload).digest(),
        message.payload_type,
        len(message.payload),
    )
    return header + message.payload


def decode(frame: bytes, *, check_digest: bool = True) -> ClientMessage:
    """Parse one binary frame the way the real receivers read it.

    The payload starts at ``HeaderLength + 4`` and runs to the end of the frame; PayloadLength
    is not used to cut it. Raises FrameError for anything a real receiver would reject.
    """
    if len(frame) < HEADER_SIZE:
        raise FrameError(
            f"frame of {len(frame)} bytes is shorter than the {HEADER_SIZE}-byte header"
        )
    (
        header_length,
        type_bytes,
        schema_version,
        created_date,
        sequence_number,
        flags,
        wire_id,
        digest,
        payload_type,
        payload_length,
    ) = _HEADER.unpack_from(frame)
    try:
        message_type = type_bytes.strip(b"\x00 \t\r\n").decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("message type is not ASCII") from None
    if message_type in _UNCHECKED_TYPES:
        # The service sends these with wrong lengths and digests; the plugin checks nothing.
        return ClientMessage(
            message_type=message_type,
            sequence_number=sequence_number,
            payload=b"",
            payload_type=payload_type,
            flags=flags,
            message_id=uuid_from_wire(wire_id),
            created_date=created_date,
            schema_version=schema_version,
        )
    if header_length == 0 or not message_type or created_date == 0:
        raise FrameError("header has a zero HeaderLength, MessageType or CreatedDate")
    start = header_length + 4
    if start < HEADER_SIZE or start > len(frame):
        raise FrameError(f"HeaderLength {header_length} does not fit a {len(frame)}-byte frame")
    payload = frame[start:]
    if check_digest and payload_length != 0 and hashlib.sha256(payload).digest() != digest:
        raise FrameError(f"payload digest mismatch on {message_type} seq {sequence_number}")
    return ClientMessage(
        message_type=message_type,
        sequence_number=sequence_number,
        payload=payload,
        payload_type=payload_type,
        flags=flags,
        message_id=uuid_from_wire(wire_id),
        created_date=created_date,
        schema_version=schema_version,
    )


@dataclass(frozen=True, slots=True)
class AckPayload:
    """The JSON body of an ``acknowledge`` message. Only the sequence number is used by peers."""

    message_type: str
    message_id: uuid.UUID
    sequence_number: int

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "AcknowledgedMessageType": self.message_type,
                "AcknowledgedMessageId": str(self.message_id),
                "AcknowledgedMessageSequenceNumber": self.sequence_number,
                "IsSequentialMessage": True,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> AckPayload:
        data = _json_object(payload, "acknowledge")
        try:
            sequence = data["AcknowledgedMessageSequenceNumber"]
            if not isinstance(sequence, int) or isinstance(sequence, bool):
                raise TypeError
            message_id = uuid.UUID(str(data.get("AcknowledgedMessageId") or uuid.UUID(int=0)))
        except (KeyError, TypeError, ValueError):
            raise FrameError("acknowledge payload lacks a valid sequence number") from None
        return cls(str(data.get("AcknowledgedMessageType", "")), message_id, sequence)


def _json_object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the limit
        raise FrameError(f"{what} payload is not JSON") from None
    if not isinstance(data, dict):
        raise FrameError(f"{what} payload is not a JSON object")
    return data


def json_payload(payload: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON-object payload (handshake messages, channel_closed), or raise FrameError."""
    return _json_object(payload, what)


def flag_payload(flag: Flag) -> bytes:
    return int(flag).to_bytes(4, "big")


def parse_flag(payload: bytes) -> int:
    if len(payload) != 4:
        raise FrameError(f"flag payload of {len(payload)} bytes (expected 4)")
    return int.from_bytes(payload, "big")
