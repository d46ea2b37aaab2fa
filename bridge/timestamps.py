"""One timestamp style for everything smconnect prints as JSON: RFC 3339, UTC, ``Z``.

Timestamps come in three shapes (a ``time.time()`` float, an aware ``datetime`` from boto3,
and ``str()`` of one, ``2026-11-30 16:43:04.150000+00:00``); users piping ``--json`` into
``jq`` or another program should see one: ``2026-11-30T16:43:04.150Z`` (milliseconds).
"""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(value: float | datetime | str) -> str:
    """``value`` (epoch seconds, a datetime, or an ISO 8601 string) as RFC 3339 UTC with Z.

    A naive datetime (or string) is taken as UTC, which is what AWS and our clocks give.
    """
    if isinstance(value, str):
        value = parse_rfc3339(value)
    elif not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """The inverse of ``rfc3339`` (any ISO 8601 form ``datetime.fromisoformat`` reads)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
