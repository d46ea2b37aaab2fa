"""User activity inside a space, as SageMaker's idle shutdown reads it.

The real image's ``jupyter_activity_monitor_extension`` answers ``/api/idle`` with the later of
the heartbeat file's timestamp and Jupyter's kernel/terminal ``last_activity``; Code Editor's
server reads the file alone. The heartbeat file is ``/tmp/.sagemaker-last-active-timestamp``,
one UTC ISO-8601 time with milliseconds and ``Z`` (``2026-03-05T18:50:57.123Z``); a missing or
unparsable file is ignored. An emulated space has its own ``TMPDIR`` (its processes are started
with it), and the file is looked for there instead of the host's shared ``/tmp``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from pathlib import Path
from typing import Any

import aiohttp

HEARTBEAT_NAME = ".sagemaker-last-active-timestamp"
_HEARTBEAT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def heartbeat_time(tmp_dir: Path) -> float | None:
    """Epoch seconds written in the space's heartbeat file, or None (missing or invalid)."""
    try:
        text = (tmp_dir / HEARTBEAT_NAME).read_text(encoding="ascii").strip()
        stamp = dt.datetime.strptime(text, _HEARTBEAT_FORMAT).replace(tzinfo=dt.UTC)
    except (OSError, ValueError):
        return None
    return stamp.timestamp()


async def jupyter_activity(socket_path: Path, base_url: str) -> float | None:
    """The latest kernel or terminal ``last_activity`` of the Jupyter server (None: none).
    Plain API requests do not count, as in the activity extension."""
    latest: float | None = None
    connector = aiohttp.UnixConnector(path=os.fspath(socket_path))
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        for kind in ("kernels", "terminals"):
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                async with http.get(f"http://localhost{base_url}/api/{kind}") as response:
                    if response.status != 200:
                        continue
                    items: Any = await response.json()
                for item in items if isinstance(items, list) else []:
                    when = _iso(item.get("last_activity") if isinstance(item, dict) else None)
                    if when is not None and (latest is None or when > latest):
                        latest = when
    return latest


def _iso(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
