"""``smconnect list | open | ssh | start | stop``: spaces, as the daemon sees them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from bridge.cli import costs, output, rpc
from bridge.cli.completion import complete_instance_type
from bridge.cli.context import AwsContext, JsonOpt, ProfileOpt, RegionOpt, aws_context
from bridge.cli.errors import CliError
from bridge.cli.launch import EditorNotFound, exec_ssh, find_editor, open_folder, ssh_binary
from bridge.cli.progress import ProgressDisplay
from bridge.cli.space_pick import choose_space, space_names
from bridge.cli.ssh_args import SshCommand, ssh_options

if TYPE_CHECKING:
    from bridge.daemon.client import RpcError

OPEN_TIMEOUT = 900.0  # a cold start on AWS takes minutes; StudioClient gives up after ten


def complete_space(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of space names (``domain-id/name`` where a name repeats), asked of the
    daemon's cached list; completion must never fail, so any problem completes nothing."""
    # Completion parses without running callbacks: read --profile/--region from the params.
    given: dict[str, Any] = {**ctx.find_root().params, **ctx.params}
    base = AwsContext.from_env()
    aws = AwsContext(
        profile=given.get("profile") or base.profile,
        region=given.get("region") or base.region,
        endpoint_url=given.get("endpoint_url") or base.endpoint_url,
    )
    try:
        result = rpc.call("spaces.list", aws.params(), timeout=10.0)
    except Exception:
        return []
    return sorted({c for c in space_names(result.get("spaces", [])) if c.startswith(incomplete)})


SpaceArg = Annotated[
    str,
    typer.Argument(
        help="Space name, or domain-id/name when the name is in several domains.",
        autocompletion=complete_space,
    ),
]
MaybeSpaceArg = Annotated[
    str | None,
    typer.Argument(
        help="Space name, or domain-id/name when the name is in several domains; "
        "none: pick one (on a terminal).",
        autocompletion=complete_space,
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", min=1, help="Seconds to wait for the space to be ready."),
]
InstanceTypeOpt = Annotated[
    str | None,
    typer.Option(
        "--instance-type",
        help="Run the space on this instance type (at least 8 GiB of memory).",
        show_default=False,
        autocompletion=complete_instance_type,
    ),
]
StopTimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", min=1, help="Seconds to wait for the space's app to be gone."),
]


def list_spaces(
    ctx: typer.Context,
    running: Annotated[
        bool, typer.Option("--running", help="Only the spaces whose app runs (and costs).")
    ] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """List the Studio spaces you can use, across domains, and what running ones cost."""
    from rich.table import Table

    aws = aws_context(ctx, profile, region)
    result = rpc.call("spaces.list", {**aws.params(), "refresh": True, "running": running})
    spaces: list[dict[str, Any]] = list(result.get("spaces", []))  # the shape of start/open
    output.warn_rejected(result)
    if json_out:
        output.print_json(spaces)
        return
    if not spaces:
        output.say(
            "no space is running"
            if running
            else "no spaces are visible to your AWS identity in this region"
        )
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in (
        "Space",
        "Domain",
        "Status",
        "App type",
        "Instance",
        "Remote access",
        "App",
        *costs.COLUMNS,
        "SSH host",
    ):
        table.add_column(column, overflow="fold")
    for s in spaces:
        table.add_row(
            output.cell(s["name"]),
            output.cell(s["domain_id"]),
            output.cell(s.get("status")),
            output.cell(s.get("app_type")),
            output.cell(s.get("instance_type")),
            output.cell(s.get("remote_access")),
            output.cell(s.get("app_status"), "stopped"),
            *costs.cost_cells(s),
            output.cell(s.get("ssh_host")),
        )
    output.stdout().print(table)


def open_space(
    aws: AwsContext,
    space: str,
    *,
    yes: bool,
    instance_type: str | None = None,
    timeout: float = OPEN_TIMEOUT,
) -> dict[str, Any]:
    """``space.open``, asking before a running app restarts (or failing, without a terminal)."""
    params: dict[str, Any] = {**aws.params(), "space": space, "ssh_config": True}
    if instance_type:
        params["instance_type"] = instance_type
    return _restarting("space.open", "opening", params, yes=yes, timeout=timeout)


def _restarting(
    method: str, verb: str, params: dict[str, Any], *, yes: bool, timeout: float
) -> dict[str, Any]:
    """``method``, asking before a running app restarts to apply a change (or failing without
    a terminal, unless ``yes``)."""
    from bridge.daemon.client import RpcError

    space = str(params["space"])
    progress = ProgressDisplay(space, verb)
    try:
        with progress:
            try:
                result: dict[str, Any] = rpc.call(
                    method, params, timeout=timeout, on_notification=progress
                )
                return result
            except RpcError as exc:
                if exc.kind != "restart_required":
                    raise
                if not yes:
                    with progress.paused():
                        _confirm_restart(exc.message)
                progress.update("restarting the space")
                result = rpc.call(
                    method, {**params, "restart": True}, timeout=timeout, on_notification=progress
                )
                return result
    except KeyboardInterrupt:
        output.say(interrupted(space, progress.phases))
        raise  # exit 130 (bridge/cli/app.py)


def interrupted(space: str, phases: list[str]) -> str:
    """What Ctrl-C during a start leaves behind: the daemon's calls are not undone, so an app
    whose start was requested keeps starting (and, once running, costs money)."""
    stop = f"`smconnect stop {space}` stops it"
    if "ssh" in phases or "session" in phases:
        return f"interrupted: space {space!r} is running and keeps running; {stop}"
    if "starting" in phases or "update" in phases:
        return (
            f"interrupted: the app of space {space!r} keeps starting on AWS (the request was "
            f"made); {stop}"
        )
    return (
        f"interrupted: space {space!r} may still start (the daemon had begun); "
        f"`smconnect list` shows its state, {stop}"
    )


def _confirm_restart(message: str) -> None:
    reason = message.split(" (answer yes")[0]  # the daemon's hint is for us, not the user
    if not output.stdin_is_interactive():
        raise CliError(f"{reason}; pass --yes to restart it")
    output.say(reason)
    if not typer.confirm("Restart the space to apply?", default=False, err=True):
        raise CliError("not restarted; the space is unchanged")


def open_cmd(
    ctx: typer.Context,
    space: MaybeSpaceArg = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Restart a running space without asking.")
    ] = False,
    shell: Annotated[
        bool, typer.Option("--shell", help="Open an ssh shell instead of an editor.")
    ] = False,
    instance_type: InstanceTypeOpt = None,
    timeout: TimeoutOpt = OPEN_TIMEOUT,
    no_editor: Annotated[
        bool, typer.Option("--no-editor", help="Do not start VS Code; print the ssh command.")
    ] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Start a space if needed, enable remote access, and open it in VS Code (or a shell).

    The editor is $SMCONNECT_EDITOR, else the first of code, code-insiders, cursor on PATH.
    """
    from rich.text import Text

    aws = aws_context(ctx, profile, region)
    if shell and not json_out:
        ssh_binary()  # fail before starting anything
    space = space or choose_space(ctx, aws)
    result = open_space(aws, space, yes=yes, instance_type=instance_type, timeout=timeout)
    output.warn_rejected(result)
    host = str(result["ssh_host"])
    if json_out:
        output.print_json(result)
        return
    if shell:
        exec_ssh(host)
    if not no_editor:
        try:
            editor = find_editor()
        except EditorNotFound as exc:
            output.say(exc.message)
            editor = None
        if editor is not None:
            open_folder(editor, str(result["folder_uri"]))
            output.stdout().print(
                Text(f"Opened {output.safe(space)} in {editor.name} (ssh host {host}).")
            )
            return
    output.stdout().print(
        Text(f"Space {output.safe(space)} is ready. Connect with:\n\n    ssh {host}\n")
    )


def ssh_cmd(
    ctx: typer.Context,
    space: MaybeSpaceArg = None,
    command: Annotated[
        list[str] | None,
        typer.Argument(
            help="A command to run instead of a shell; ssh options may come first.",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Restart a running space without asking.")
    ] = False,
    timeout: TimeoutOpt = OPEN_TIMEOUT,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """ssh into a space (starting it if needed), with ssh's options: `smconnect ssh -v demo`.

    ssh's own options (`-L 9999:127.0.0.1:22`, `-o Name=value`, `-v`…) go before or after the
    space, as with ssh; a remote command follows the space (`smconnect ssh demo -- uname -a`).
    """
    aws = aws_context(ctx, profile, region)
    ssh_binary()
    space = space or choose_space(ctx, aws)
    result = open_space(aws, space, yes=yes, timeout=timeout)
    exec_ssh(str(result["ssh_host"]), list(command or []), ssh_options(ctx))


def _lifecycle(
    aws: AwsContext, method: str, verb: str, space: str, timeout: float, **extra: Any
) -> dict[str, Any]:
    with ProgressDisplay(space, verb) as progress:
        result: dict[str, Any] = rpc.call(
            method,
            {**aws.params(), "space": space, **extra},
            timeout=timeout,
            on_notification=progress,
        )
    return result


def _print_space(info: dict[str, Any], space: str, json_out: bool) -> None:
    from rich.text import Text

    if json_out:
        output.print_json(info)
        return
    state = info.get("app_status") or "stopped"
    output.stdout().print(
        Text(
            output.safe(
                f"Space {info.get('name', space)} ({info.get('app_type')}, "
                f"{info.get('instance_type')}): {'running' if state == 'InService' else state.lower()}"
            )
        )
    )


def start_cmd(
    ctx: typer.Context,
    space: SpaceArg,
    instance_type: InstanceTypeOpt = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Restart a running space to switch its type, without asking."
        ),
    ] = False,
    timeout: TimeoutOpt = OPEN_TIMEOUT,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Start a space's app and wait until it runs (on another instance type with --instance-type)."""
    aws = aws_context(ctx, profile, region)
    params: dict[str, Any] = {**aws.params(), "space": space}
    if instance_type:
        params["instance_type"] = instance_type
    result = _restarting("space.start", "starting", params, yes=yes, timeout=timeout)
    _print_space(result["space"], space, json_out)


def stop_cmd(
    ctx: typer.Context,
    space: SpaceArg,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Stop even with sessions, forwards or kernels open, without asking."
        ),
    ] = False,
    timeout: StopTimeoutOpt = OPEN_TIMEOUT,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Stop a space's app (its files stay) and wait until it is gone.

    With ssh sessions, forwards or kernels open on the space, lists them and asks first; without
    a terminal it refuses unless --yes.
    """
    from bridge.daemon.client import RpcError

    aws = aws_context(ctx, profile, region)
    try:
        result = _lifecycle(aws, "space.stop", "stopping", space, timeout, force=yes)
    except RpcError as exc:
        if exc.kind != "space_in_use":
            raise
        _confirm_stop(space, exc)
        result = _lifecycle(aws, "space.stop", "stopping", space, timeout, force=True)
    _print_space(result["space"], space, json_out)


def _confirm_stop(space: str, exc: RpcError) -> None:
    """Ask before ending what is open on the space; refuse without a terminal."""
    users = [str(u) for u in exc.data.get("in_use", [])] or [exc.message]
    if not output.stdin_is_interactive():
        raise CliError(
            f"space {space!r} has {len(users)} open ({'; '.join(users)}); stopping it would end "
            "them: pass --yes to stop it anyway"
        )
    output.say(f"stopping space {space!r} ends what is open on it:")
    for line in users:
        output.say(f"  {line}")
    if not typer.confirm("Stop it?", default=False, err=True):
        raise CliError("not stopped; the space keeps running")


def register(app: typer.Typer) -> None:
    app.command("list")(list_spaces)
    app.command("open")(open_cmd)
    app.command(
        "ssh",
        cls=SshCommand,
        context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
    )(ssh_cmd)
    app.command("start")(start_cmd)
    app.command("stop")(stop_cmd)
