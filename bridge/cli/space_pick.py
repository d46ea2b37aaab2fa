"""Which space, when the command line names none: a picker on a terminal, else a usage error
that lists the spaces.

``smconnect ssh`` with no space behaves like ``gh codespace ssh``: on a terminal the user
picks one of the spaces they can use (arrow keys, type to filter); in a script there is no
one to ask, so the error says how to name one and which there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer

from bridge.cli import output, rpc
from bridge.cli.context import AwsContext
from bridge.cli.errors import CliError, ExitCode, as_cli_error
from bridge.cli.picker import Choice, PickerCancelled, pick

LIST_TIMEOUT = 60.0


def space_names(spaces: Sequence[dict[str, Any]]) -> list[str]:
    """What the user types for each space: its name, or ``domain-id/name`` where a name is in
    several domains (the forms every command accepts)."""
    names = [str(s.get("name")) for s in spaces]
    return [
        str(s.get("ref")) if names.count(str(s.get("name"))) > 1 else str(s.get("name"))
        for s in spaces
    ]


def choose_space(ctx: typer.Context, aws: AwsContext, *, args: str = "SPACE") -> str:
    """The space to use when none was given (see the module docstring); ``args`` is the
    command's usage after its name, for the error without a terminal."""
    command = ctx.command_path
    usage = f"{command} needs a space: `{command} {args}` (see `{command} --help`)"
    interactive = output.stdin_is_interactive()
    try:
        spaces: list[dict[str, Any]] = list(
            rpc.call("spaces.list", aws.params(), timeout=LIST_TIMEOUT).get("spaces", [])
        )
    except Exception as exc:
        error = as_cli_error(exc)
        if error is None:
            raise
        if interactive:  # someone is there: the reason we cannot list is what they need
            raise error from None
        raise CliError(
            f"{usage} (the spaces could not be listed: {error.message})", ExitCode.USAGE
        ) from None
    if not spaces:
        raise CliError(
            f"{usage}; no spaces are visible to your AWS identity in this region", ExitCode.USAGE
        )
    names = space_names(spaces)
    if not interactive:
        raise CliError(f"{usage}; your spaces: {', '.join(names)}", ExitCode.USAGE)
    choices = [Choice(name, _detail(s)) for name, s in zip(names, spaces, strict=True)]
    try:
        return pick("Space (type to filter, ↑/↓, Enter):", choices)
    except PickerCancelled:
        raise CliError("no space chosen", ExitCode.USAGE) from None


def _detail(space: dict[str, Any]) -> str:
    state = (
        "running"
        if space.get("app_status") == "InService"
        else (space.get("app_status") or "stopped")
    )
    return " · ".join(
        str(p) for p in (space.get("app_type"), str(state).lower(), space.get("domain_id")) if p
    )
