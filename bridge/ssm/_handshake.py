"""The JSON payloads of the session handshake (PT5/PT6/PT7) and of ``channel_closed``.

Parsing is strict about shape (a malformed handshake is a rejected frame, never a crash) and
lenient about extra fields. The client's answer to a HandshakeRequest lives here too: it is pure
policy (which actions we accept), kept apart from the sequencing machinery in ``core``.
"""

from __future__ import annotations

import base64
import enum
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.ssm.codec import FrameError, json_payload
from bridge.ssm.errors import ChannelError, HandshakeError, KMSUnsupported

HANDSHAKE_SESSION_TYPES = frozenset({"Port", "NonInteractiveCommands"})
KNOWN_SESSION_TYPES = frozenset(
    {"Port", "Standard_Stream", "InteractiveCommands", "NonInteractiveCommands"}
)
KMS_UNSUPPORTED_ERROR = "KMS encryption is not supported by smconnect"


class ActionStatus(enum.IntEnum):
    SUCCESS = 1
    FAILED = 2
    UNSUPPORTED = 3


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


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


def build_request(
    agent_version: str,
    session_type: str,
    properties: Mapping[str, str] | None,
    kms_key_id: str | None,
) -> HandshakeRequest:
    """The agent's PT5: SessionType always, KMSEncryption when a key is configured."""
    actions = [
        RequestedAction(
            "SessionType",
            {
                "SessionType": session_type,
                "Properties": dict(properties) if properties is not None else None,
            },
        )
    ]
    if kms_key_id is not None:
        challenge = base64.b64encode(os.urandom(16)).decode()
        actions.append(
            RequestedAction("KMSEncryption", {"KMSKeyId": kms_key_id, "Challenge": challenge})
        )
    return HandshakeRequest(agent_version, tuple(actions))


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


@dataclass(frozen=True, slots=True)
class ClientAnswer:
    """What the client replies to a HandshakeRequest, and what it learned from it."""

    response: HandshakeResponse
    session_type: str
    properties: Mapping[str, str]
    failure: str | None = None
    error: type[ChannelError] = HandshakeError


def answer_request(request: HandshakeRequest, client_version: str) -> ClientAnswer:
    """Accept a known SessionType; refuse KMS (Unsupported) and anything unknown.

    Refusing is still answered, so the agent cancels the session at once instead of waiting
    out its 15 s timeout.
    """
    processed: list[ProcessedAction] = []
    session_type = ""
    properties: dict[str, str] = {}
    failure: str | None = None
    error: type[ChannelError] = HandshakeError
    for action in request.actions:
        if action.action_type == "SessionType":
            requested = action.parameters.get("SessionType")
            props = action.parameters.get("Properties")
            if (
                isinstance(requested, str)
                and requested in KNOWN_SESSION_TYPES
                and (props is None or isinstance(props, dict))
            ):
                session_type = requested
                properties = {str(k): str(v) for k, v in (props or {}).items()}
                processed.append(ProcessedAction("SessionType", ActionStatus.SUCCESS))
            else:
                message = f"unsupported session type {requested!r}"
                processed.append(ProcessedAction("SessionType", ActionStatus.FAILED, message))
                failure = failure or f"agent requested an {message}"
        elif action.action_type == "KMSEncryption":
            processed.append(
                ProcessedAction("KMSEncryption", ActionStatus.UNSUPPORTED, KMS_UNSUPPORTED_ERROR)
            )
            failure = (
                "the agent requested KMS encryption for this session; "
                f"{KMS_UNSUPPORTED_ERROR} (turn KMS encryption off in the Session Manager "
                "preferences)"
            )
            error = KMSUnsupported
        else:
            message = f"unsupported action {action.action_type!r}"
            processed.append(ProcessedAction(action.action_type, ActionStatus.UNSUPPORTED, message))
            failure = failure or f"agent requested an {message}"
    errors = tuple(a.error for a in processed if a.error)
    return ClientAnswer(
        HandshakeResponse(client_version, tuple(processed), errors),
        session_type,
        properties,
        failure,
        error,
    )


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
