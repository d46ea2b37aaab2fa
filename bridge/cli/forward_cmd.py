"""``smconnect forward``: a local port into a space (Jupyter, a dev server, a debugger).

The daemon owns the listener and the data channel; in the foreground this command only keeps
it alive until Ctrl-C / SIGTERM and then closes it, so a terminal window is the forward's
lifetime. ``--background`` leaves it to the daemon until ``--close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated, Any

import typer

from bridge.cli import output, rpc
from bridge.cli.context import AwsContext, JsonOpt, ProfileOpt, RegionOpt, aws_context
from bridge.cli.errors import CliError, ExitCode
from bridge.cli.progress import ProgressDisplay
from bridge.cli.spaces_cmd import OPEN_TIMEOUT
from bridge.cli.status_cmd import forward_table
from bridge.daemon.client import DaemonClient, DaemonUnavailable, RpcError


def parse_ports(spec: str) -> tuple[int, int]:
    """``REMOTE`` (same local port), ``LOCAL:REMOTE``, ``0:REMOTE`` (any free local port)."""
    local_text, sep, remote_text = spec.rpartition(":")
    if not sep:
        local_text = remote_text
    try:
        local, remote = int(local_text), int(remote_text)
    except ValueError:
        raise CliError(
            f"{spec!r} is not a port spec: use REMOTE, LOCAL:REMOTE or 0:REMOTE (e.g. 8888)",
            ExitCode.USAGE,
        ) from None
    if not 0 <= local <= 65535 or not 1 <= remote <= 65535:
        raise CliError(
            f"{spec!r}: ports go from 1 to 65535 (0 as the local port picks a free one)",
            ExitCode.USAGE,
        )
    return local, remote


def _announce(fwd: dict[str, Any], space: str, suffix: str) -> None:
    # Plain print, flushed at once: scripts wait for this line to know the port is ready.
    print(
        f"Forwarding 127.0.0.1:{fwd['local_port']} → {space}:{fwd['remote_port']} {suffix}",
        flush=True,
    )


async def _foreground(aws: AwsContext, space: str, local: int, remote: int) -> None:
    client = await DaemonClient.open(autostart=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    failed: list[str] = []
    try:
        with ProgressDisplay(space, "opening the forward") as progress:
            fwd = await client.call(
                "forward.open",
                {
                    **aws.params(),
                    "space": space,
                    "remote_port": remote,
                    "local_port": local,
                    "close_with_connection": True,  # a killed `smconnect forward` leaves nothing
                },
                timeout=OPEN_TIMEOUT,
                on_notification=progress,
            )
        fwd_id = str(fwd["id"])

        def on_state(method: str, params: dict[str, Any]) -> None:
            if method == "credentials" and params.get("state") in ("expired", "expiring"):
                output.say(str(params.get("message") or "your AWS credentials need a sign-in"))
                return
            if method != "session.state" or params.get("id") != fwd_id:
                return
            phase, reason = params.get("phase"), params.get("reason")
            output.say(f"forward {fwd_id}: connection {phase}" + (f" ({reason})" if reason else ""))
            if phase == "failed":
                failed.append(str(reason or "the data channel failed"))
                stop.set()

        client.subscribe(on_state)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        _announce(fwd, space, "(Ctrl-C to stop)")
        while not stop.is_set() and not client.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        if client.closed:
            raise CliError(
                "the connection to the smconnect daemon was lost; the forward is gone",
                ExitCode.DAEMON,
            )
        with contextlib.suppress(RpcError):  # already gone is fine
            await client.call("forward.close", {"id": fwd_id}, timeout=30.0)
        if failed:
            raise CliError(f"the forward to {space} failed: {failed[0]}")
        output.say(f"stopped forwarding 127.0.0.1:{fwd['local_port']}")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await client.close()


async def _list_forwards() -> list[dict[str, Any]]:
    try:
        client = await DaemonClient.open(autostart=False)
    except DaemonUnavailable:
        return []
    try:
        result = await client.call("forward.list", timeout=10.0)
    finally:
        await client.close()
    forwards: list[dict[str, Any]] = result.get("forwards", [])
    return forwards


def forward_cmd(
    ctx: typer.Context,
    space: Annotated[str | None, typer.Argument(help="Space name.", show_default=False)] = None,
    ports: Annotated[
        str | None,
        typer.Argument(
            help="REMOTE, LOCAL:REMOTE, or 0:REMOTE for any free local port.", show_default=False
        ),
    ] = None,
    background: Annotated[
        bool, typer.Option("--background", "-b", help="Leave the forward in the daemon.")
    ] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the daemon's forwards.")] = False,
    close: Annotated[
        str | None,
        typer.Option("--close", help="Close the forward with this id.", show_default=False),
    ] = None,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Forward a local port to a port in a space: `smconnect forward demo 8888`."""
    if list_ or close:
        if space or ports or (list_ and close):
            raise CliError(
                "--list and --close take no space or ports, and not each other", ExitCode.USAGE
            )
        if close:
            _close(close, json_out)
        else:
            _list(json_out)
        return
    if not space or not ports:
        raise CliError(
            "usage: smconnect forward SPACE [LOCAL:]REMOTE (or --list, --close ID)", ExitCode.USAGE
        )
    aws = aws_context(ctx, profile, region)
    local, remote = parse_ports(ports)
    if not background:
        asyncio.run(_foreground(aws, space, local, remote))
        return
    with ProgressDisplay(space, "opening the forward") as progress:
        fwd = rpc.call(
            "forward.open",
            {**aws.params(), "space": space, "remote_port": remote, "local_port": local},
            timeout=OPEN_TIMEOUT,
            on_notification=progress,
        )
    if json_out:
        output.print_json(fwd)
        return
    _announce(fwd, space, f"in the background (id {fwd['id']})")
    output.stdout.print(f"`smconnect forward --close {fwd['id']}` stops it.")


def _list(json_out: bool) -> None:
    forwards = asyncio.run(_list_forwards())
    if json_out:
        output.print_json(forwards)
    elif forwards:
        output.stdout.print(forward_table(forwards))
    else:
        output.stdout.print("no forwards")


def _close(forward_id: str, json_out: bool) -> None:
    try:
        rpc.call("forward.close", {"id": forward_id}, timeout=30.0, autostart=False)
    except DaemonUnavailable:
        raise CliError(
            f"no forward with id {forward_id!r} (the daemon is not running)", ExitCode.NOT_FOUND
        ) from None
    if json_out:
        output.print_json({"closed": forward_id})
    else:
        output.stdout.print(f"closed forward {forward_id}")


def register(app: typer.Typer) -> None:
    app.command("forward")(forward_cmd)
