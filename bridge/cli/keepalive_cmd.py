"""``smconnect keep-alive``: what keeps a space's idle clock from running out, per space.

The daemon decides (bridge/daemon/keepalive.py): by default a space stays up while its
connections carry user traffic, and stops at its idle timeout otherwise. This command shows
that state, sets a space's own mode, or refreshes its idle clock once ("keep running").
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bridge.cli import output, rpc
from bridge.cli.context import JsonOpt, ProfileOpt, RegionOpt, aws_context
from bridge.cli.errors import CliError, ExitCode

MODES = ("off", "activity", "always", "default")


def keepalive_cmd(
    ctx: typer.Context,
    space: Annotated[
        str | None,
        typer.Argument(help="The space (name or domain-id/name); none: every connected space."),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Argument(
            help="off, activity (user traffic keeps it running), always (any open connection "
            "does), or default (the daemon's setting, SMCONNECT_KEEPALIVE).",
            show_default=False,
        ),
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Refresh the space's idle clock now (keep running).")
    ] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Show or set what keeps a space running: `smconnect keep-alive demo always`."""
    from rich.text import Text

    if mode is not None and mode not in MODES:
        raise CliError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}", ExitCode.USAGE)
    if space is None:
        if mode is not None or refresh:
            raise CliError("name the space: `smconnect keep-alive SPACE MODE`", ExitCode.USAGE)
        _show(rpc.call("keepalive.status", {}), json_out)
        return
    params = {**aws_context(ctx, profile, region).params(), "space": space}
    result: dict[str, Any] = {}
    if mode is not None:
        result = rpc.call("keepalive.set", {**params, "mode": mode})
        if not json_out:
            output.stdout().print(
                Text(output.safe(f"Keep-alive of {result['space']}: {result['mode']}."))
            )
    if refresh:
        result = {**result, **rpc.call("keepalive.refresh", params, timeout=120.0)}
        if not json_out:
            output.stdout().print(
                Text(output.safe(f"Refreshed the idle clock of {result['space']}."))
            )
    if mode is None and not refresh:
        status = rpc.call("keepalive.status", {})
        name = space.rpartition("/")[2]
        _show({**status, "spaces": [s for s in status["spaces"] if s["space"] == name]}, json_out)
    elif json_out:
        output.print_json(result)


def _show(status: dict[str, Any], json_out: bool) -> None:
    from rich.text import Text

    if json_out:
        output.print_json(status)
        return
    output.stdout().print(Text(f"Default keep-alive: {status.get('mode')}"))
    if not status.get("spaces"):
        output.stdout().print("No connected space.")
    for s in status.get("spaces", []):
        shutdown = s.get("idle_shutdown_at") or "never (idle shutdown off)"
        line = (
            f"{s['space']}: keep-alive {s['mode']}, {s['connections']} connection(s), "
            f"last traffic {s.get('last_traffic') or '-'}, heartbeat {s.get('heartbeat_at') or '-'}, "
            f"running since {s.get('running_since') or '-'}, idle shutdown {shutdown}"
        )
        output.stdout().print(Text(output.safe(line)))


def register(app: typer.Typer) -> None:
    app.command("keep-alive")(keepalive_cmd)
