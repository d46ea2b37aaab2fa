"""The JSON bodies the data channel carries, in one place (docs/design/ssm-protocol.md).

The open-data-channel input (the first, text, frame of every connection), the handshake
(PT5 HandshakeRequest, PT6 HandshakeResponse, PT7 HandshakeComplete) and ``channel_closed``.
Parsing is strict about shape (a malformed body is a rejected frame, never a crash) and
lenient about extra fields. The acknowledge body stays in ``codec`` (the codec's own tests and
the ``_wire`` fast path are built around it).
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.ssm.codec import FrameError, json_payload
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


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class ActionStatus(enum.IntEnum):
    SUCCESS = 1
    FAILED = 2
    UNSUPPORTED = 3


@dataclass(frozen=True, slots=True)
class RequestedAction:
    action_type: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    agent_version: str
    actions: tuple[RequestedAction, ...]

    def to_json(self) -> bytes:
        return _dumps(
            {
                "AgentVersion": self.agent_version,
                "RequestedClientActions": [
                    {"ActionType": a.action_type, "ActionParameters": dict(a.parameters)}
                    for a in self.actions
                ],
            }
        )

    @classmethod
    def from_json(cls, payload: bytes) -> HandshakeRequest:
        data = json_payload(payload, "HandshakeRequest")
        raw_actions = data.get("RequestedClientActions")
        if raw_actions is None:
            raw_actions = []
        if not isinstance(raw_actions, list):
            raise FrameError("HandshakeRequest RequestedClientActions is not a list")
        actions = []
        for raw in raw_actions:
            if not isinstance(raw, dict) or not isinstance(raw.get("ActionType"), str):
                raise FrameError("HandshakeRequest action without an ActionType")
            params = raw.get("ActionParameters")
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise FrameError("HandshakeRequest ActionParameters is not an object")
            actions.append(RequestedAction(raw["ActionType"], params))
        version = data.get("AgentVersion")
        return cls(version if isinstance(version, str) else "", tuple(actions))


@dataclass(frozen=True, slots=True)
class ProcessedAction:
    action_type: str
    status: int
    error: str = ""
    result: Any = None


@dataclass(frozen=True, slots=True)
class HandshakeResponse:
    client_version: str
    actions: tuple[ProcessedAction, ...]
    errors: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        return _dumps(
            {
                "ClientVersion": self.client_version,
                "ProcessedClientActions": [
                    {
                        "ActionType": a.action_type,
                        "ActionStatus": a.status,
                        "ActionResult": a.result,
                        "Error": a.error,
                    }
                    for a in self.actions
                ],
                "Errors": list(self.errors) or None,
            }
        )

    @classmethod
    def from_json(cls, payload: bytes) -> HandshakeResponse:
        data = json_payload(payload, "HandshakeResponse")
        raw_actions = data.get("ProcessedClientActions")
        if raw_actions is None:
            raw_actions = []
        if not isinstance(raw_actions, list):
            raise FrameError("HandshakeResponse ProcessedClientActions is not a list")
        actions = []
        for raw in raw_actions:
            if not isinstance(raw, dict):
                raise FrameError("HandshakeResponse action is not an object")
            status = raw.get("ActionStatus")
            if not isinstance(status, int) or isinstance(status, bool):
                raise FrameError("HandshakeResponse action without an integer ActionStatus")
            error = raw.get("Error")
            action_type = raw.get("ActionType")
            actions.append(
                ProcessedAction(
                    action_type if isinstance(action_type, str) else "",
                    status,
                    error if isinstance(error, str) else "",
                    raw.get("ActionResult"),
                )
            )
        raw_errors = data.get("Errors")
        errors = tuple(str(e) for e in raw_errors) if isinstance(raw_errors, list) else ()
        version = data.get("ClientVersion")
        return cls(version if isinstance(version, str) else "", tuple(actions), errors)

    def failure(self) -> str | None:
        """Why the agent must cancel the session (any status other than Success), or None."""
        bad = [a for a in self.actions if a.status != ActionStatus.SUCCESS]
        if not bad:
            return None
        details = "; ".join(
            f"{a.action_type or '?'} status {a.status}" + (f": {a.error}" if a.error else "")
            for a in bad
        )
        return f"client refused the handshake ({details})"


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    time_to_complete_ns: int
    customer_message: str = ""

    def to_json(self) -> bytes:
        return _dumps(
            {
                "HandshakeTimeToComplete": self.time_to_complete_ns,
                "CustomerMessage": self.customer_message,
            }
        )

    @classmethod
    def from_json(cls, payload: bytes) -> HandshakeComplete:
        data = json_payload(payload, "HandshakeComplete")
        elapsed = data.get("HandshakeTimeToComplete", 0)
        if not isinstance(elapsed, int) or isinstance(elapsed, bool):
            elapsed = 0
        message = data.get("CustomerMessage")
        return cls(elapsed, message if isinstance(message, str) else "")


def parse_channel_closed(payload: bytes) -> tuple[str, str]:
    """(Output, SessionId) of a channel_closed body; garbage yields empty strings, not errors."""
    try:
        data = json_payload(payload, "channel_closed")
    except FrameError:
        return "", ""
    output = data.get("Output")
    session_id = data.get("SessionId")
    return (
        output if isinstance(output, str) else "",
        session_id if isinstance(session_id, str) else "",
    )


def channel_closed_payload(reason: str, session_id: str, message_id: str, created: int) -> bytes:
    return _dumps(
        {
            "MessageId": message_id,
            "CreatedDate": created,
            "DestinationId": "",
            "SessionId": session_id,
            "MessageType": "channel_closed",
            "SchemaVersion": 1,
            "Output": reason,
        }
    )
