"""``smconnect forward``: local ports into a space (Jupyter, a dev server, a debugger).

The daemon owns the listener and the data channel; in the foreground this command only keeps
it alive until Ctrl-C / SIGTERM and then closes it, so a terminal window is the forward's
lifetime. ``--background`` leaves it to the daemon until ``--close``.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bridge.cli import output, rpc
from bridge.cli.completion import complete_forward_id
from bridge.cli.context import AwsContext, JsonOpt, ProfileOpt, RegionOpt, aws_context
from bridge.cli.errors import CliError, ExitCode
from bridge.cli.progress import ProgressDisplay
from bridge.cli.space_pick import choose_space
from bridge.cli.spaces_cmd import OPEN_TIMEOUT, MaybeSpaceArg
from bridge.cli.status_cmd import forward_table

if TYPE_CHECKING:
    from bridge.daemon.client import RpcError


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
    print(f"Forwarding {fwd['local']} → {space}:{fwd['remote_port']} {suffix}", flush=True)
    if not fwd.get("peer_check", True):
        output.say(
            "this OS cannot tell which local user connects to a TCP port, so every local user "
            "can use this forward; `--unix-socket PATH` gives one only you can use"
        )


def _open_params(
    aws: AwsContext, space: str, spec: tuple[int, int], where: _Where
) -> dict[str, Any]:
    local, remote = spec
    params: dict[str, Any] = {**aws.params(), "space": space, "remote_port": remote}
    if where.unix_socket:
        params["unix_socket"] = where.unix_socket
    else:
        params.update(local_port=local, local_host=where.bind)
    return params


class _Where:
    """Where the forwards listen: ``--bind`` address, or ``--unix-socket`` path."""

    def __init__(self, bind: str, unix_socket: str | None) -> None:
        self.bind = bind
        self.unix_socket = str(Path(unix_socket).expanduser().absolute()) if unix_socket else None


def _open_failed(exc: RpcError, space: str, spec: tuple[int, int], where: _Where) -> Exception:
    """A local port in use is one line with the fix; other errors pass through as they are."""
    if exc.kind != "local_port":
        return exc
    remote = spec[1]
    if where.unix_socket:
        return CliError(f"{exc.message}; remove it or pick another path")
    return CliError(
        f"{exc.message}. Pick another local port "
        f"(`smconnect forward {space} 0:{remote}` takes any free one) or close the forward "
        "holding it (`smconnect forward --list`, then `smconnect forward --close ID`)"
    )


async def _foreground(
    aws: AwsContext, space: str, specs: list[tuple[int, int]], where: _Where
) -> None:
    import asyncio

    from bridge.daemon.client import DaemonClient, DaemonUnavailable, RpcError

    client = await DaemonClient.open(autostart=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    opened: list[dict[str, Any]] = []
    try:
        with ProgressDisplay(space, "opening the forward") as progress:
            for spec in specs:
                try:
                    fwd = await client.call(
                        "forward.open",
                        # a killed `smconnect forward` leaves nothing behind:
                        {**_open_params(aws, space, spec, where), "close_with_connection": True},
                        timeout=OPEN_TIMEOUT,
                        on_notification=progress,
                    )
                except RpcError as exc:
                    raise _open_failed(exc, space, spec, where) from None
                opened.append(fwd)
        ids = {str(f["id"]) for f in opened}

        def on_state(method: str, params: dict[str, Any]) -> None:
            if method == "credentials" and params.get("state") in ("expired", "expiring"):
                output.say(str(params.get("message") or "your AWS credentials need a sign-in"))
                return
            if method == "space.idle" and params.get("space") == space.rpartition("/")[2]:
                output.say(str(params.get("message") or "the space is about to stop: idle"))
                return
            if method != "session.state" or params.get("id") not in ids:
                return
            phase, reason = params.get("phase"), params.get("reason")
            output.say(
                f"forward {params.get('id')}: connection {phase}"
                + (f" ({reason})" if reason else "")
            )

        client.subscribe(on_state)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        for fwd in opened:
            _announce(fwd, space, "(Ctrl-C to stop)")
        errors: dict[str, str | None] = {}
        while not stop.is_set() and not client.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            with contextlib.suppress(RpcError, DaemonUnavailable, TimeoutError, OSError):
                _report_changes(await client.call("forward.list", timeout=5.0), ids, errors)
        if client.closed:
            raise CliError(
                "the connection to the smconnect daemon was lost; the forward is gone",
                ExitCode.DAEMON,
            )
        for fwd_id in ids:
            with contextlib.suppress(RpcError):  # already gone is fine
                await client.call("forward.close", {"id": fwd_id}, timeout=30.0)
        for fwd in opened:
            output.say(f"stopped forwarding {fwd['local']}")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await client.close()


def _report_changes(listed: dict[str, Any], ids: set[str], seen: dict[str, str | None]) -> None:
    """Say once on stderr when a forward's problem appears (e.g. nothing listens on the remote
    port, the space stopped) or changes; the daemon log has the detail."""
    for fwd in listed.get("forwards", []):
        fwd_id = str(fwd.get("id"))
        if fwd_id not in ids:
            continue
        problem = fwd.get("error") or (
            None if fwd.get("state") == "connected" else f"state: {fwd.get('state')}"
        )
        if problem != seen.get(fwd_id) and problem:
            output.say(f"forward {fwd_id} ({fwd.get('local')}): {problem}")
        seen[fwd_id] = problem


async def _list_forwards() -> list[dict[str, Any]]:
    from bridge.daemon.client import DaemonClient, DaemonUnavailable

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
    space: MaybeSpaceArg = None,
    ports: Annotated[
        list[str] | None,
        typer.Argument(
            help="One or more of REMOTE, LOCAL:REMOTE, or 0:REMOTE for any free local port.",
            show_default=False,
        ),
    ] = None,
    background: Annotated[
        bool, typer.Option("--background", "-b", help="Leave the forward in the daemon.")
    ] = False,
    bind: Annotated[
        str,
        typer.Option("--bind", help="Local address to listen on.", metavar="ADDRESS"),
    ] = "127.0.0.1",
    unix_socket: Annotated[
        str | None,
        typer.Option(
            "--unix-socket",
            help="Listen on this unix socket (mode 0600, only you) instead of a TCP port.",
            metavar="PATH",
            show_default=False,
        ),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the daemon's forwards.")] = False,
    close: Annotated[
        str | None,
        typer.Option(
            "--close",
            help="Close the forward with this id.",
            show_default=False,
            autocompletion=complete_forward_id,
        ),
    ] = None,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Forward local ports to ports in a space: `smconnect forward demo 8888 6006 18080:8080`."""
    import asyncio

    from bridge.daemon.client import RpcError

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
    aws = aws_context(ctx, profile, region)
    if not space and not ports:
        space = choose_space(ctx, aws, args="SPACE [LOCAL:]REMOTE...")
        ports = _ask_ports(space)
    if not space or not ports:
        raise CliError(
            "usage: smconnect forward SPACE [LOCAL:]REMOTE... (or --list, --close ID)",
            ExitCode.USAGE,
        )
    specs = [parse_ports(spec) for spec in ports]
    if unix_socket and len(specs) > 1:
        raise CliError("--unix-socket takes one port (one socket per forward)", ExitCode.USAGE)
    where = _Where(bind, unix_socket)
    if not background:
        asyncio.run(_foreground(aws, space, specs, where))
        return
    opened: list[dict[str, Any]] = []
    with ProgressDisplay(space, "opening the forward") as progress:
        for spec in specs:
            try:
                opened.append(
                    rpc.call(
                        "forward.open",
                        _open_params(aws, space, spec, where),
                        timeout=OPEN_TIMEOUT,
                        on_notification=progress,
                    )
                )
            except RpcError as exc:
                raise _open_failed(exc, space, spec, where) from None
    if json_out:
        output.print_json(opened[0] if len(opened) == 1 else opened)
        return
    for fwd in opened:
        _announce(fwd, space, f"in the background (id {fwd['id']})")
    output.stdout().print(
        "`smconnect forward --close ID` stops it" + ("." if len(opened) == 1 else " (each id).")
    )


def _ask_ports(space: str) -> list[str]:
    """The ports to forward, after the picker chose the space (a terminal is there)."""
    answer = typer.prompt(
        f"Ports to forward to {output.safe(space)} ([LOCAL:]REMOTE, several with spaces)",
        err=True,
    )
    return str(answer).split()


def _list(json_out: bool) -> None:
    import asyncio

    forwards = asyncio.run(_list_forwards())
    if json_out:
        output.print_json(forwards)
    elif forwards:
        output.stdout().print(forward_table(forwards))
    else:
        output.stdout().print("no forwards")


def _close(forward_id: str, json_out: bool) -> None:
    from bridge.daemon.client import DaemonUnavailable

    try:
        rpc.call("forward.close", {"id": forward_id}, timeout=30.0, autostart=False)
    except DaemonUnavailable:
        raise CliError(
            f"no forward with id {forward_id!r} (the daemon is not running)", ExitCode.NOT_FOUND
        ) from None
    if json_out:
        output.print_json({"closed": forward_id})
    else:
        output.stdout().print(f"closed forward {forward_id}")


def register(app: typer.Typer) -> None:
    app.command("forward")(forward_cmd)
