"""``smconnect logs`` (also ``smconnect daemon logs``): the daemon's log, filtered like journalctl.

The log is where a failed ProxyCommand's story is; ``--since 10m`` and ``--level warning``
find it without scrolling through a day of connections. A record is a line that starts with a
timestamp (RFC 3339 UTC; logs written before 0.2 used local ``YYYY-MM-DD HH:MM:SS,mmm``);
the lines after it that do not (a traceback) belong to it and are kept or dropped with it.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bridge.cli import output
from bridge.cli.errors import CliError
from bridge.paths import default_paths
from bridge.timestamps import parse_rfc3339

DEFAULT_LINES = 50
_RECORD = re.compile(
    rb"^(?P<when>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?Z?) (?P<level>[A-Z]+) "
)
_RELATIVE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Level(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"


_SEVERITY = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``30s``, ``10m``, ``1h``, ``2d`` ago, or an RFC 3339 time (``2026-11-30T16:00:00Z``)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        seconds = float(relative["n"]) * _UNITS[relative["unit"]]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        return parse_rfc3339(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither a duration (30s, 10m, 1h, 2d) nor an RFC 3339 time",
            param_hint="'--since'",
        ) from None


class RecordFilter:
    """Keeps the lines of records at or above ``level`` and not older than ``since``."""

    def __init__(self, since: datetime | None, level: Level | None) -> None:
        self.since = since
        self.threshold = _SEVERITY[level.value.upper()] if level else 0
        self.keeping = since is None and not self.threshold  # continuation lines before any record

    def keep(self, line: bytes) -> bool:
        record = _RECORD.match(line)
        if record is not None:
            self.keeping = self._wanted(record["when"].decode(), record["level"].decode())
        return self.keeping

    def _wanted(self, when: str, level: str) -> bool:
        if _SEVERITY.get(level, 0) < self.threshold:
            return False
        return self.since is None or _when(when) >= self.since


def _when(text: str) -> datetime:
    if text.endswith("Z"):
        return parse_rfc3339(text)
    return datetime.fromisoformat(text.replace(",", ".")).astimezone(UTC)  # old: local time


def logs_cmd(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[
        int | None,
        typer.Option(
            "--lines",
            "-n",
            min=0,
            help=f"How many lines (default {DEFAULT_LINES}; all of them with --since).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only records since then: 30s, 10m, 1h, 2d ago or an RFC 3339 time.",
            show_default=False,
        ),
    ] = None,
    level: Annotated[
        Level | None,
        typer.Option("--level", help="Only records at this level or above.", show_default=False),
    ] = None,
) -> None:
    """Print the end of the daemon's log (already redacted: no secrets)."""
    start = parse_since(since) if since is not None else None
    keep = RecordFilter(start, level).keep
    count = lines if lines is not None else (None if start else DEFAULT_LINES)
    path = default_paths().log
    try:
        with open(path, "rb") as f:
            tail = deque((line for line in f if keep(line)), maxlen=count)
            position = f.tell()  # the end: `-n 0 -f` prints only lines written from now on
    except FileNotFoundError:
        if not follow:
            output.say(f"no daemon log yet ({path})")
            return
        tail, position = deque(), 0
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    out = sys.stdout.buffer
    out.writelines(tail)
    out.flush()
    if follow:
        for line in _lines(_follow(path, position)):
            if keep(line):
                out.write(line)
                out.flush()


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Whole lines out of appended chunks (a record may be written in two reads)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line + b"\n" for line in complete)


def _follow(path: Path, position: int) -> Iterator[bytes]:
    """``tail -F``: keeps up across the log's rotation (the file is renamed and recreated)."""
    inode = _inode(path)
    while True:
        current = _inode(path)
        if current != inode:
            inode, position = current, 0
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size < position:
                    position = 0  # truncated
                f.seek(position)
                data = f.read()
                position = f.tell()
        except FileNotFoundError:
            data = b""
        if data:
            yield data
        else:
            time.sleep(0.25)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def register(app: typer.Typer) -> None:
    app.command("logs")(logs_cmd)
