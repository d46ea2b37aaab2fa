"""Space ARNs remembered across daemons: what lets a new daemon's first connection to a space
send StartSession beside the space's description (``early.py``) instead of after it.

A space's ARN names the space (its domain and name), not a run of its app, so one learnt by
an earlier daemon stays right until the space is deleted. It is only ever a guess: the
description still decides whether the early session is used, and a wrong ARN only makes our
own early StartSession fail or be terminated unused; the connection then goes on as without
it. Kept in the state directory (``space-arns.json``: private, replaced atomically, and only
when an ARN was learnt or changed), per endpoint (``""`` for AWS's own). An entry whose ARN
does not end in ``:space/<its domain>/<its name>`` is ignored. ARNs are not secrets.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from bridge.paths import write_private_file

__all__ = ["KnownArns"]

log = logging.getLogger("smconnect.daemon.arns")

_VERSION = 1
MAX_ENDPOINTS = 20  # emulators come and go on new ports: the oldest endpoints are dropped
MAX_PER_ENDPOINT = 500


class KnownArns:
    """``ref`` (``<domain>/<name>``) -> ARN, per endpoint; ``Workspaces`` hands each
    endpoint's dict to its workspaces, which call ``save`` after learning any."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._by_endpoint = _load(path)
        self._saved = _snapshot(self._by_endpoint)

    def for_endpoint(self, endpoint_url: str | None) -> dict[str, str]:
        """The dict the workspaces of ``endpoint_url`` read and write (shared, live)."""
        key = endpoint_url or ""
        arns = self._by_endpoint.pop(key, None)
        arns = {} if arns is None else arns
        self._by_endpoint[key] = arns  # most recently used last: the first to go is the oldest
        return arns

    def save(self) -> None:
        """Write the file when anything changed since it was last written (never raises)."""
        current = _snapshot(self._by_endpoint)
        if self._path is None or current == self._saved:
            return
        kept = list(current.items())[-MAX_ENDPOINTS:]
        data = {
            "version": _VERSION,
            "arns": {e: dict(list(a.items())[-MAX_PER_ENDPOINT:]) for e, a in kept},
        }
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private_file(self._path, json.dumps(data, sort_keys=True))
        except OSError as exc:
            log.warning("could not write %s: %s", self._path, exc)
        self._saved = current


def _snapshot(by_endpoint: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {endpoint: dict(arns) for endpoint, arns in by_endpoint.items() if arns}


def _load(path: Path | None) -> dict[str, dict[str, str]]:
    if path is None:
        return {}
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        return {}
    endpoints = data.get("arns")
    if not isinstance(endpoints, dict):
        return {}
    return {
        endpoint: {
            ref: arn
            for ref, arn in arns.items()
            if isinstance(ref, str)
            and isinstance(arn, str)
            and ref.count("/") == 1
            and arn.startswith("arn:")
            and arn.endswith(f":space/{ref}")
        }
        for endpoint, arns in endpoints.items()
        if isinstance(endpoint, str) and isinstance(arns, dict)
    }
