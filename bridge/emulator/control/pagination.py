"""NextToken/MaxResults for the List* calls: an opaque offset token bound to its operation."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from bridge.emulator.control.errors import validation

T = TypeVar("T")

DEFAULT_MAX_RESULTS = 10
MAX_MAX_RESULTS = 100


def paginate(
    items: Sequence[T], params: Mapping[str, Any], operation: str
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token for the next, or None on the last page."""
    limit = params.get("MaxResults", DEFAULT_MAX_RESULTS)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise validation("1 validation error detected: Value at 'maxResults' must be an integer")
    if not 1 <= limit <= MAX_MAX_RESULTS:
        bound = (
            "greater than or equal to 1"
            if limit < 1
            else f"less than or equal to {MAX_MAX_RESULTS}"
        )
        raise validation(
            f"1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )
    token = params.get("NextToken")
    offset = 0 if token is None else _decode(token, operation)
    end = offset + limit
    page = list(items[offset:end])
    return page, (_encode(end, operation) if end < len(items) else None)


def _encode(offset: int, operation: str) -> str:
    raw = json.dumps({"op": operation, "offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(token: Any, operation: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = data["offset"]
        if data["op"] != operation or not isinstance(offset, int) or offset < 0:
            raise ValueError(token)
    except (ValueError, KeyError, TypeError):
        raise validation("The NextToken provided is invalid.") from None
    return offset
