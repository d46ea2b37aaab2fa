"""The JSON bodies the data channel carries, in one place (docs/design/ssm-protocol.md).

The open-data-channel input is the first (text) frame of every connection; the handshake
bodies live in ``_handshake.py`` for now and the acknowledge body in ``codec.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.ssm.codec import FrameError
from bridge.ssm.core import CLIENT_VERSION


def _require_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise FrameError(f"OpenDataChannelInput lacks a string {key}")
    return value


def _require_uuid(data: Mapping[str, Any], key: str) -> str:
    value = _require_str(data, key)
    try:
        uuid.UUID(value)
    except ValueError:
        raise FrameError(f"OpenDataChannelInput {key} is not a UUID") from None
    return value


@dataclass(frozen=True, slots=True)
class OpenDataChannelInput:
    """The first (text) frame of every websocket connection, client to service."""

    token_value: str = field(repr=False)  # a secret: never in reprs, logs or errors
    client_id: str
    request_id: str
    message_schema_version: str = "1.0"
    client_version: str = CLIENT_VERSION

    def to_json(self) -> str:
        return json.dumps(
            {
                "MessageSchemaVersion": self.message_schema_version,
                "RequestId": self.request_id,
                "TokenValue": self.token_value,
                "ClientId": self.client_id,
                "ClientVersion": self.client_version,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> OpenDataChannelInput:
        """Parse and validate; raises codec.FrameError on anything malformed.

        ``ClientVersion`` is optional (plugins before 1.2.677.0 omit it): it reads as "".
        """
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise FrameError("OpenDataChannelInput is not JSON") from None
        if not isinstance(data, dict):
            raise FrameError("OpenDataChannelInput is not a JSON object")
        version = data.get("ClientVersion", "")
        if not isinstance(version, str):
            raise FrameError("OpenDataChannelInput ClientVersion is not a string")
        return cls(
            token_value=_require_str(data, "TokenValue"),
            client_id=_require_uuid(data, "ClientId"),
            request_id=_require_uuid(data, "RequestId"),
            message_schema_version=_require_str(data, "MessageSchemaVersion"),
            client_version=version,
        )
