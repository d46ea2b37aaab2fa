"""JSON-RPC 2.0 wire format shared by the daemon and its clients (stdlib only).

Only what both sides need lives here: error codes, the application error that carries a
machine-readable ``kind``, and message encoding/classification. Batches are refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
APPLICATION_ERROR = -32000  # -32000..-32099: the daemon's own failures, told apart by data.kind

RequestId = int | str


class ApiError(Exception):
    """Raised by a method handler to answer with a JSON-RPC error.

    ``kind`` is the stable, machine-readable name clients branch on (``"space_not_found"``,
    ``"credentials_expired"``, …); ``message`` is for humans and must not contain secrets.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        code: int = APPLICATION_ERROR,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.code = code
        self.details = details or {}

    def to_error(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "data": {**self.details, "kind": self.kind},
        }


def invalid_params(message: str) -> ApiError:
    return ApiError(message, kind="invalid_params", code=INVALID_PARAMS)


@dataclass(frozen=True)
class Request:
    method: str
    params: dict[str, Any]
    id: RequestId | None  # None: a notification, no response expected


@dataclass(frozen=True)
class Response:
    id: RequestId | None
    result: Any = None
    error: dict[str, Any] | None = None


Message = Request | Response


def encode_request(method: str, params: dict[str, Any] | None, id: RequestId | None) -> str:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        msg["params"] = params
    if id is not None:
        msg["id"] = id
    return json.dumps(msg, separators=(",", ":"))


def encode_result(id: RequestId | None, result: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": id, "result": result}, separators=(",", ":"))


def encode_error(id: RequestId | None, error: dict[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": id, "error": error}, separators=(",", ":"))


def parse_message(text: str | bytes) -> Message:
    """Classify one incoming text frame; raises ``ApiError`` with -32700 / -32600 / -32602.

    A request's id is recovered before validation fails where possible, so the error answer
    can still be matched by the caller (``ApiError.details`` never carries it: see ``request_id``).
    """
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("parse error", kind="parse_error", code=PARSE_ERROR) from None
    except RecursionError:  # nesting deeper than the interpreter's stack: no request is
        raise ApiError(
            "parse error: nested too deeply", kind="parse_error", code=PARSE_ERROR
        ) from None
    if isinstance(obj, list):
        raise ApiError(
            "batch requests are not supported", kind="invalid_request", code=INVALID_REQUEST
        )
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
        raise ApiError("not a JSON-RPC 2.0 message", kind="invalid_request", code=INVALID_REQUEST)
    msg_id = obj.get("id")
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, int | str)):
        raise ApiError(
            "id must be a string or an integer", kind="invalid_request", code=INVALID_REQUEST
        )
    if "method" in obj:
        method = obj["method"]
        if not isinstance(method, str) or not method:
            raise ApiError(
                "method must be a non-empty string", kind="invalid_request", code=INVALID_REQUEST
            )
        params = obj.get("params", {})
        if isinstance(params, list):
            raise invalid_params("params must be an object (named parameters)")
        if not isinstance(params, dict):
            raise ApiError("params must be an object", kind="invalid_request", code=INVALID_REQUEST)
        return Request(method=method, params=params, id=msg_id)
    if "result" in obj or "error" in obj:
        error = obj.get("error")
        if error is not None and not isinstance(error, dict):
            raise ApiError("error must be an object", kind="invalid_request", code=INVALID_REQUEST)
        return Response(id=msg_id, result=obj.get("result"), error=error)
    raise ApiError("neither a request nor a response", kind="invalid_request", code=INVALID_REQUEST)


def request_id(text: str | bytes) -> RequestId | None:
    """Best-effort id of a malformed request, so its error answer carries the caller's id."""
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(obj, dict):
        msg_id = obj.get("id")
        if isinstance(msg_id, int | str) and not isinstance(msg_id, bool):
            return msg_id
    return None
