"""``smconnect daemon start|stop|status|logs``: the local daemon, for when something is off.

Nobody needs to start the daemon by hand (every command autostarts it); ``stop`` is how a new
install replaces an old daemon, and ``logs`` is where a failed ProxyCommand's story is.
"""

from __future__ import annotations

import time
from typing import Any

import typer

from bridge.cli import output
from bridge.cli.context import JsonOpt
from bridge.cli.errors import CliError, ExitCode
from bridge.cli.logs_cmd import logs_cmd
from bridge.cli.status_cmd import daemon_line
from bridge.paths import default_paths, lock_held

daemon_app = typer.Typer(help="Start, stop and inspect the local smconnect daemon.")

STOP_WAIT = 30.0  # the daemon closes each session cleanly first (up to 10 s each)


async def _status(autostart: bool) -> dict[str, Any] | None:
    from bridge.daemon.client import DaemonClient, DaemonUnavailable

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
    import asyncio

    status = asyncio.run(_status(autostart=False))
    verb = "already running"
    if status is None:
        status = asyncio.run(_status(autostart=True)) or {}
        verb = "started"
    output.stdout().print(f"smconnect daemon {verb} (pid {status.get('pid')})")


async def _shutdown() -> dict[str, Any] | None:
    from bridge.daemon.client import DaemonClient, DaemonUnavailable

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
    import asyncio

    status = asyncio.run(_status(autostart=False))
    if status is None or asyncio.run(_shutdown()) is None:
        output.stdout().print("smconnect daemon is not running")
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
    output.stdout().print(f"smconnect daemon stopped (pid {status.get('pid')})")


@daemon_app.command("status")
def status_cmd(json_out: JsonOpt = False) -> None:
    """Is the daemon running? (exit status 5 if not)"""
    import asyncio

    status = asyncio.run(_status(autostart=False))
    if json_out:
        output.print_json({"running": status is not None, **(status or {})})
    else:
        output.stdout().print(daemon_line(status))
    if status is None:
        raise typer.Exit(ExitCode.DAEMON)


daemon_app.command("logs")(logs_cmd)  # the same as `smconnect logs`


def register(app: typer.Typer) -> None:
    app.add_typer(daemon_app, name="daemon")
