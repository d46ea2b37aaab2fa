"""The session handshake's policy: what the agent asks (PT5) and how the client answers it.

The bodies themselves (PT5/PT6/PT7, ``channel_closed``) are in ``messages``; this is pure
policy (which actions we accept), kept apart from the sequencing machinery in ``sequenced``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bridge.ssm.errors import ChannelError, HandshakeError, KMSUnsupported
from bridge.ssm.messages import (
    ActionStatus,
    HandshakeRequest,
    HandshakeResponse,
    ProcessedAction,
    RequestedAction,
)

HANDSHAKE_SESSION_TYPES = frozenset({"Port", "NonInteractiveCommands"})
KNOWN_SESSION_TYPES = frozenset(
    {"Port", "Standard_Stream", "InteractiveCommands", "NonInteractiveCommands"}
)
KMS_UNSUPPORTED_ERROR = "KMS encryption is not supported by smconnect"


def build_request(
    agent_version: str,
    session_type: str,
    properties: Mapping[str, str] | None,
    kms_key_id: str | None,
    random_bytes: Callable[[int], bytes] = os.urandom,
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
        challenge = base64.b64encode(random_bytes(16)).decode()
        actions.append(
            RequestedAction("KMSEncryption", {"KMSKeyId": kms_key_id, "Challenge": challenge})
        )
    return HandshakeRequest(agent_version, tuple(actions))


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
