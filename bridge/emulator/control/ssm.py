"""The SSM session calls a data-channel client makes after StartSession (awsJson1_1, target
prefix "AmazonSSM."): ResumeSession after a dropped websocket, TerminateSession at the end."""

from __future__ import annotations

from typing import Any

from bridge.emulator.control.errors import ApiError, required
from bridge.emulator.control.plane import ControlPlane
from bridge.emulator.control.ports import SessionNotResumable, SessionUnknown
from bridge.emulator.control.sagemaker import Handler


def resume_session(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    """A fresh token. A session that will not resume answers without TokenValue, which the
    session-manager-plugin reports as "Session: <id> timed out." and exits."""
    session_id = _session_id(params)
    record = plane.sessions.get(session_id)
    try:
        token = plane.gateway.resume(session_id)
    except SessionUnknown:
        if record is None:
            raise _does_not_exist(session_id) from None
        return {"SessionId": session_id}  # ours, but over: the plugin's "timed out"
    except SessionNotResumable:
        return {"SessionId": session_id}
    out = {"SessionId": session_id, "TokenValue": token}
    if record is not None:
        out["StreamUrl"] = record.stream_url
    return out


def terminate_session(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    """Idempotent for sessions this emulator handed out; unknown ids are an error."""
    session_id = _session_id(params)
    record = plane.sessions.get(session_id)
    try:
        plane.gateway.terminate(session_id)
    except SessionUnknown:
        if record is None:
            raise _does_not_exist(session_id) from None
    if record is not None:
        record.app.sessions.discard(session_id)
    return {"SessionId": session_id}


OPERATIONS: dict[str, Handler] = {
    "ResumeSession": resume_session,
    "TerminateSession": terminate_session,
}


def _session_id(params: dict[str, Any]) -> str:
    value = params.get("SessionId")
    if not isinstance(value, str) or not value:
        raise required("SessionId")
    return value


def _does_not_exist(session_id: str) -> ApiError:
    return ApiError("DoesNotExistException", f"Session with id {session_id} does not exist.")
