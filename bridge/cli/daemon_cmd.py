"""``smconnect daemon start|stop|status|logs``: the local daemon, for when something is off.

Nobody needs to start the daemon by hand (every command autostarts it); ``stop`` is how a new
install replaces an old daemon, and ``logs`` is where a failed ProxyCommand's story is.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import Annotated, Any

import typer

from bridge.cli import output
from bridge.cli.context import JsonOpt
from bridge.cli.errors import CliError, ExitCode
from bridge.cli.status_cmd import daemon_line
from bridge.daemon.client import DaemonClient, DaemonUnavailable
from bridge.paths import default_paths, lock_held

daemon_app = typer.Typer(help="Start, stop and inspect the local smconnect daemon.")

STOP_WAIT = 30.0  # the daemon closes each session cleanly first (up to 10 s each)


async def _status(autostart: bool) -> dict[str, Any] | None:
    try:
        client = await DaemonClient.open(autostart=autostart)
    except DaemonUnavailable:
        if autostart:
            raise
        return None
    try:
        status: dict[str, Any] = await client.call("daemon.status", timeout=10.0)
        return status
    finally:
        await client.close()


@daemon_app.command("start")
def start_cmd() -> None:
    """Start the daemon (if it is not running) and print its pid."""
    status = asyncio.run(_status(autostart=False))
    verb = "already running"
    if status is None:
        status = asyncio.run(_status(autostart=True)) or {}
        verb = "started"
    output.stdout.print(f"smconnect daemon {verb} (pid {status.get('pid')})")


async def _shutdown() -> dict[str, Any] | None:
    try:
        client = await DaemonClient.open(autostart=False)
    except DaemonUnavailable:
        return None
    try:
        status: dict[str, Any] = await client.call("daemon.shutdown", timeout=10.0)
        return status
    except DaemonUnavailable:
        return {}  # it went away before answering: that is what we asked for
    finally:
        await client.close()


@daemon_app.command("stop")
def stop_cmd() -> None:
    """Stop the daemon, closing its sessions and forwards (not running is fine)."""
    status = asyncio.run(_status(autostart=False))
    if status is None or asyncio.run(_shutdown()) is None:
        output.stdout.print("smconnect daemon is not running")
        return
    lock = default_paths().lock
    deadline = time.monotonic() + STOP_WAIT
    while lock_held(lock):
        if time.monotonic() > deadline:
            raise CliError(
                f"the daemon (pid {status.get('pid')}) did not exit within {STOP_WAIT:.0f} s",
                ExitCode.DAEMON,
            )
        time.sleep(0.05)
    output.stdout.print(f"smconnect daemon stopped (pid {status.get('pid')})")


@daemon_app.command("status")
def status_cmd(json_out: JsonOpt = False) -> None:
    """Is the daemon running? (exit status 5 if not)"""
    status = asyncio.run(_status(autostart=False))
    if json_out:
        output.print_json({"running": status is not None, **(status or {})})
    else:
        output.stdout.print(daemon_line(status))
    if status is None:
        raise typer.Exit(ExitCode.DAEMON)


@daemon_app.command("logs")
def logs_cmd(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="How many lines.")] = 50,
) -> None:
    """Print the end of the daemon's log (already redacted: no secrets)."""
    path = default_paths().log
    try:
        with open(path, "rb") as f:
            tail = deque(f, maxlen=lines)
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
        _follow(path, position)


def _follow(path: Path, position: int) -> None:
    """``tail -F``: keeps up across the log's rotation (the file is renamed and recreated)."""
    out = sys.stdout.buffer
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
            out.write(data)
            out.flush()
        time.sleep(0.25)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def register(app: typer.Typer) -> None:
    app.add_typer(daemon_app, name="daemon")
