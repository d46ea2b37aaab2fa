"""``smconnect cp`` and ``smconnect sync``: copy files and trees to or from a space (or mirror one
side onto the other), striped over several SSM sessions.

The daemon does the copy (``transfer.start``); this command parses scp's syntax, shows progress
on a terminal and prints the summary. Killing it ends its connection, which cancels the copy;
nothing is left half-written under a final name.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bridge.cli import output, rpc
from bridge.cli.context import JsonOpt, ProfileOpt, RegionOpt, aws_context
from bridge.cli.errors import CliError, ExitCode

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["parse_lanes", "parse_side", "parse_size", "register"]

MAX_LANES = 16  # the daemon's cap (bridge.daemon.transfers.MAX_LANES)


LanesOpt = Annotated[
    str, typer.Option("--lanes", help=f"SSM sessions to stripe over: 1..{MAX_LANES} or auto.")
]
ChunkOpt = Annotated[
    str, typer.Option("--chunk", help="Piece size of large files (striping, resume): 64K..64M.")
]


def parse_side(arg: str) -> tuple[str | None, str]:
    """scp's rule: ``SPACE:PATH`` when a colon comes before any slash; the path is relative to
    the space user's home (empty: the home itself). Anything else is local (``./a:b`` for a
    local name with a colon)."""
    head, sep, tail = arg.partition(":")
    if sep and head and "/" not in head:
        return head, tail or "."
    return None, arg


def parse_lanes(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_LANES:
        raise CliError(f"--lanes must be 1..{MAX_LANES} or auto, not {text!r}", ExitCode.USAGE)
    return n


def parse_size(text: str) -> int:
    """``4M``, ``512K``, ``1048576``: a chunk size within the daemon's range."""
    from bridge.transfer.limits import MAX_CHUNK, MIN_CHUNK

    units = {"": 1, "K": 1 << 10, "M": 1 << 20}
    number, unit = text.rstrip("kKmM"), text[len(text.rstrip("kKmM")) :].upper()
    try:
        n = int(number) * units[unit]
    except (ValueError, KeyError):
        n = 0
    if not MIN_CHUNK <= n <= MAX_CHUNK:
        raise CliError(f"--chunk must be 64K..64M, not {text!r}", ExitCode.USAGE)
    return n


def _params(srcs: list[str], dest: str) -> dict[str, Any]:
    sides = [parse_side(s) for s in srcs]
    dspace, dpath = parse_side(dest)
    spaces = {space for space, _ in sides}
    if len(spaces) != 1:
        raise CliError("the sources must all be local or all in one space", ExitCode.USAGE)
    (sspace,) = spaces
    if (sspace is None) == (dspace is None):
        raise CliError(
            "exactly one side must be a space (SPACE:PATH), the other local", ExitCode.USAGE
        )
    if dspace is not None:
        return {
            "direction": "upload",
            "space": dspace,
            "sources": [os.path.abspath(path) for _, path in sides],
            "dest": dpath,
        }
    return {
        "direction": "download",
        "space": sspace,
        "sources": [path for _, path in sides],
        "dest": os.path.abspath(dpath) + ("/" if dpath.endswith("/") else ""),
    }


SFTP_NOTICE = (
    "python3 could not be started in the space: copying over SFTP instead "
    "(no compression; every file is read back to verify it)"
)


class _Bar:
    """The transfer's progress bar on a terminal; elsewhere nothing, and no rich imported."""

    def __init__(self, show: bool) -> None:
        self._progress: Progress | None = None
        if show:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._task = self._progress.add_task("starting", total=None)

    def __enter__(self) -> _Bar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, **fields: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, **fields)


async def _run(method: str, params: dict[str, Any], show: bool) -> dict[str, Any]:
    from bridge.daemon.client import DaemonClient, RpcError

    bar = _Bar(show)
    said: list[bool] = []

    def say_method(how: object) -> None:
        """Once per run: the lanes moved the data over SFTP (no python3 in the space)."""
        if how == "sftp" and not said:
            said.append(True)
            output.say(SFTP_NOTICE)

    def on_notification(method: str, note: dict[str, Any]) -> None:
        if method == "transfer.progress":
            say_method(note.get("method"))
            files = f"{note['files']}/{note['total_files']} files, {note['lanes']} lanes"
            bar.update(completed=note["bytes"], total=note["total"], description=files)
        elif method == "progress":
            message = str(note.get("message", ""))
            bar.update(description=message)
            if note.get("phase") == "waiting" and not show:  # no bar: say why nothing moves
                output.say(message)

    async with DaemonClient.connect(autostart=True) as client:
        try:
            with bar:
                result: dict[str, Any] = await client.call(
                    method, params, timeout=7 * 86400.0, on_notification=on_notification
                )
        except RpcError as exc:
            if exc.kind != "transfer":  # refused before copying: its message says why
                raise
            stopped = await rpc.stopped_space(client, params)
            if stopped is None:
                raise
            raise CliError(
                f"the copy was cut off: space {stopped!r} stopped ({exc.message}); "
                "`smconnect start` it and copy again",
                ExitCode.FAILURE,
            ) from None
    say_method(result.get("method"))
    return result


def cp_cmd(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(help="SRC... DEST; a space side is SPACE:PATH.", show_default=False),
    ],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Copy folders.")] = False,
    lanes: LanesOpt = "auto",
    chunk: ChunkOpt = "4M",
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Copy files to or from a space (scp's syntax), striped over several sessions."""
    import asyncio

    if len(paths) < 2:
        raise CliError("usage: smconnect cp [-r] SRC... DEST", ExitCode.USAGE)
    params = _params(paths[:-1], paths[-1])
    params |= {"recursive": recursive, "lanes": parse_lanes(lanes), "chunk": parse_size(chunk)}
    params |= aws_context(ctx, profile, region).params()
    result = asyncio.run(_run("transfer.start", params, show=sys.stderr.isatty() and not json_out))
    if json_out:
        output.print_json({k: v for k, v in result.items() if k != "id"})
        return
    _say_summary(result)


def _say_summary(result: dict[str, Any]) -> None:
    rate = result["bytes"] / max(result["seconds"], 1e-6)
    output.say(
        f"{result['files']} files, {output.human_bytes(result['bytes'])} in "
        f"{result['seconds']:.1f} s ({output.human_bytes(rate)}/s over {result['lanes']} lanes)"
    )


def sync_cmd(
    ctx: typer.Context,
    src: Annotated[str, typer.Argument(help="What to mirror (SPACE:PATH or local).")],
    dest: Annotated[str, typer.Argument(help="Where (the other side).")],
    checksum: Annotated[
        bool, typer.Option("--checksum", help="Compare content hashes, not size and mtime.")
    ] = False,
    delete: Annotated[
        bool, typer.Option("--delete", help="Remove destination files the source lacks.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Skip names (or paths, with /) matching; repeatable."),
    ] = None,
    lanes: LanesOpt = "auto",
    chunk: ChunkOpt = "4M",
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Make DEST a mirror of SRC's contents (one side a space), moving only what differs."""
    import asyncio

    params = _params([src], dest)
    params["source"] = params.pop("sources")[0]
    params |= {"lanes": parse_lanes(lanes), "chunk": parse_size(chunk)}
    params |= {"checksum": checksum, "delete": delete, "dry_run": dry_run}
    params |= {"exclude": exclude or []} | aws_context(ctx, profile, region).params()
    show = sys.stderr.isatty() and not json_out and not dry_run
    result = asyncio.run(_run("transfer.sync", params, show=show))
    if json_out:
        output.print_json({k: v for k, v in result.items() if k != "id"})
    elif dry_run:
        _say_plan(result["plan"])
    else:
        _say_summary(result)
        if result["deleted"]:
            output.say(f"{result['deleted']} deleted")


def _say_plan(plan: dict[str, Any]) -> None:
    """The dry run's plan on stdout, one action a line."""
    lines = [f"mkdir  {path}" for path in plan["mkdir"]]
    lines += [f"link   {link['path']} -> {link['target']}" for link in plan["link"]]
    lines += [f"copy   {c['path']} ({output.human_bytes(c['size'])})" for c in plan["copy"]]
    lines += [f"delete {path}" for path in plan["delete"]]
    for line in lines or ["nothing to do"]:
        typer.echo(output.safe(line))


def register(app: typer.Typer) -> None:
    app.command("cp")(cp_cmd)
    app.command("sync")(sync_cmd)
