"""``smconnect status``: the daemon, its data channels and forwards, at a glance."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

from bridge.cli import costs, output
from bridge.cli.context import AwsContext, JsonOpt, ProfileOpt, RegionOpt, aws_context
from bridge.timestamps import parse_rfc3339

if TYPE_CHECKING:
    from rich.table import Table


async def _gather(aws: AwsContext) -> dict[str, Any]:
    from bridge.daemon.client import DaemonClient, DaemonUnavailable, RpcError

    try:
        client = await DaemonClient.open(autostart=False)
    except DaemonUnavailable:
        return {
            "daemon": None,
            "sessions": [],
            "forwards": [],
            "rejected": [],
            "spaces": [],
            "spare_connections": [],
        }
    try:
        daemon = await client.call("daemon.status", timeout=10.0)
        sessions = await client.call("sessions.status", timeout=10.0)
        try:  # what runs (and costs) in this context; the daemon's cached list is enough
            listed = await client.call(
                "spaces.list", {**aws.params(), "running": True}, timeout=60.0
            )
            spaces: list[Any] | None = list(listed.get("spaces", []))
        except RpcError as exc:
            output.say(f"the running spaces are not shown: {exc.message}")
            spaces = None
    finally:
        await client.close()
    return {
        "daemon": daemon,
        "sessions": sessions.get("sessions", []),
        "forwards": sessions.get("forwards", []),
        "rejected": sessions.get("rejected", []),
        "spaces": spaces,
        "spare_connections": sessions.get("spare_connections", []),
    }


def daemon_line(daemon: dict[str, Any] | None) -> str:
    if daemon is None:
        return "daemon: not running (any smconnect command starts it)"
    return (
        f"daemon: running (pid {daemon.get('pid')}, version {daemon.get('version')}, "
        f"up {costs.describe_duration(float(daemon.get('uptime', 0)))}, "
        f"{daemon.get('transport')} {daemon.get('endpoint')})"
    )


def status_cmd(
    ctx: typer.Context,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Show the daemon, sessions, forwards, and what the running spaces cost.

    Sessions show state, traffic, reconnects and latency; running spaces their uptime,
    projected idle shutdown and hourly price (as `list` does).
    """
    import asyncio

    state = asyncio.run(_gather(aws_context(ctx, profile, region)))
    output.warn_rejected(state)  # on stderr, as `list` does: --json's stdout stays clean
    if json_out:
        output.print_json(state)
        return
    from rich.text import Text  # only for the text output: --json renders none

    output.stdout().print(daemon_line(state["daemon"]))
    if state["spaces"]:
        output.stdout().print(running_table(state["spaces"]))
    sessions, forwards = state["sessions"], state["forwards"]
    if not sessions and not forwards and state["daemon"] is not None:
        output.stdout().print("no open sessions")
    if sessions:
        output.stdout().print(session_table(sessions))
    if forwards:
        output.stdout().print(forward_table(forwards))
    for line in spare_lines(state["spare_connections"]):
        output.stdout().print(Text(line))  # plain text: nothing in a line is read as markup


def session_table(sessions: list[dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title="Sessions", title_justify="left", box=None, header_style="bold")
    for column in ("Space", "Use", "State", "Sent", "Received", "Reconnects", "Latency", "Age"):
        table.add_column(column)
    for s in sessions:
        table.add_row(
            output.cell(s.get("space")),
            output.cell(s.get("purpose")),
            output.cell(s.get("state")),
            output.human_bytes(float(s.get("bytes_sent", 0))),
            output.human_bytes(float(s.get("bytes_received", 0))),
            str(s.get("reconnects", 0)),
            f"{float(s.get('latency_ms', 0)):.0f} ms",
            _age(s.get("opened_at")),
        )
    return table


def spare_lines(spares: list[dict[str, Any]]) -> list[str]:
    """One line per TLS connection the daemon keeps open for the next cold connection."""
    lines = []
    for spare in spares:
        age = spare.get("age_s")
        when = f", {costs.describe_duration(float(age))} old" if age is not None else ""
        lines.append(
            f"spare TLS connection to {output.safe(spare.get('endpoint'))}: "
            f"{output.safe(spare.get('state'))}{when} (SMCONNECT_SPARE_DIAL=off: none)"
        )
    return lines


def _age(opened_at: Any) -> str:
    """How long a session has been open, from its RFC 3339 ``opened_at``."""
    try:
        return costs.describe_duration(time.time() - parse_rfc3339(str(opened_at)).timestamp())
    except ValueError:
        return "-"


def running_table(spaces: list[dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title="Running spaces", title_justify="left", box=None, header_style="bold")
    for column in ("Space", "Instance", *costs.COLUMNS):
        table.add_column(column, overflow="fold")
    for s in spaces:
        table.add_row(
            output.cell(s.get("name")), output.cell(s.get("instance_type")), *costs.cost_cells(s)
        )
    return table


def forward_table(forwards: list[dict[str, Any]]) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Forwards", title_justify="left", box=None, header_style="bold")
    for column in ("ID", "Space", "Local", "Remote", "State"):
        table.add_column(column)
    for f in forwards:
        state = str(f.get("state") or (f.get("session") or {}).get("state", "-"))
        if f.get("error"):  # e.g. nothing listens on the remote port: say so, not "connected"
            state += f" ({escape(str(f['error']))})"
        table.add_row(
            str(f.get("id")),
            str(f.get("space")),
            str(f.get("local")),
            str(f.get("remote")),
            state,
        )
    return table


def register(app: typer.Typer) -> None:
    app.command("status")(status_cmd)
