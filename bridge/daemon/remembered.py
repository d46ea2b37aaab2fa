"""What an earlier daemon learnt that spares a new daemon's first connection round trips: space
ARNs and each app run's SSH host key, kept in the state directory (private files, replaced
atomically, only when something new was learnt; anything odd in them is ignored).

* **ARNs** (``space-arns.json``, per endpoint, ``""`` for AWS's own) let the first connection
  send StartSession beside the space's description (``early.py``) instead of after it. A
  space's ARN names the space (its domain and name), not a run of its app. It is only ever a
  guess: the description still decides whether the early session is used, and a wrong ARN
  only makes our own early StartSession fail or be terminated unused. An entry whose ARN is not
  a SageMaker space ARN (``validate.space_arn``) ending in ``:space/<its domain>/<its name>`` is
  dropped on reading.
* **Host keys** (``host-keys.json``: space ARN -> the key its app run presented, and that run's
  creation time) spare the first connection to an app run the pool's ``hostkey`` channel (a
  StartSession, a dial, a handshake and an SSH key exchange). A key is only ever used for the
  very app run (ARN and creation time) that presented it over the SSM-authenticated channel,
  as in one daemon's memory; a new run of the app is asked again. The file is as private as
  our known_hosts, which holds the same keys.

Neither holds a secret.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, TypeGuard

from bridge.aws import validate
from bridge.paths import write_private_file

__all__ = ["KnownArns", "KnownHostKeys"]

log = logging.getLogger("smconnect.daemon.remembered")

_VERSION = 1
MAX_ENDPOINTS = 20  # emulators come and go on new ports: the oldest endpoints are dropped
MAX_ENTRIES = 500  # per endpoint (ARNs), in all (host keys): the oldest are dropped


class KnownArns:
    """``ref`` (``<domain>/<name>``) -> ARN, per endpoint; ``Workspaces`` hands each
    endpoint's dict to its workspaces, which call ``save`` after learning any."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._by_endpoint = {
            endpoint: _valid_arns(arns)
            for endpoint, arns in _read(path, "arns").items()
            if isinstance(arns, dict)
        }
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
        if current == self._saved:
            return
        kept = list(current.items())[-MAX_ENDPOINTS:]
        _write(self._path, "arns", {e: dict(list(a.items())[-MAX_ENTRIES:]) for e, a in kept})
        self._saved = current


class KnownHostKeys:
    """Space ARN -> (app run, its host key): the pool's cache of what ``hostkey`` channels
    learnt, kept for the next daemon when the app run is known (``Space.app_created``)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._keys: dict[tuple[str, str | None], str] = {}
        for arn, entry in _read(path, "keys").items():
            if isinstance(entry, dict):
                run, key = entry.get("app_created"), entry.get("key")
                if isinstance(run, str) and _one_line(key):
                    self._keys[(arn, run)] = key

    def get(self, arn: str, app_created: str | None) -> str | None:
        return self._keys.get((arn, app_created))

    def put(self, arn: str, app_created: str | None, key: str) -> None:
        """Remember ``key`` for this app run (older runs of the space are forgotten); written
        to the file only when the run is known (without it, runs cannot be told apart)."""
        for old in [k for k in self._keys if k[0] == arn]:
            del self._keys[old]
        self._keys[(arn, app_created)] = key
        if app_created is not None and _one_line(key):
            kept = [(k, v) for k, v in self._keys.items() if k[1] is not None][-MAX_ENTRIES:]
            _write(self._path, "keys", {a: {"app_created": r, "key": v} for (a, r), v in kept})


def _one_line(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) < 16384 and "\n" not in value


def _valid_arns(arns: dict[Any, Any]) -> dict[str, str]:
    return {
        ref: arn
        for ref, arn in arns.items()
        if isinstance(ref, str)
        and isinstance(arn, str)
        and ref.count("/") == 1
        and arn.endswith(f":space/{ref}")
        and _is_space_arn(arn)
    }


def _is_space_arn(arn: str) -> bool:
    """``validate.space_arn``'s check, the one every ARN from AWS passed before it was kept."""
    try:
        validate.space_arn("space-arns.json", arn)
    except validate.InvalidResponse:
        return False
    return True


def _snapshot(by_endpoint: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {endpoint: dict(arns) for endpoint, arns in by_endpoint.items() if arns}


def _read(path: Path | None, field: str) -> dict[str, Any]:
    """The file's ``field`` (a JSON object), or {} when there is none or it is odd."""
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
    value = data.get(field)
    return {k: v for k, v in value.items() if isinstance(k, str)} if isinstance(value, dict) else {}


def _write(path: Path | None, field: str, value: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private_file(path, json.dumps({"version": _VERSION, field: value}, sort_keys=True))
    except OSError as exc:
        log.warning("could not write %s: %s", path, exc)
