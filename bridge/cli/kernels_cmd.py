"""``smconnect kernels``: a local URL for a space's Jupyter server, for local notebooks.

The daemon owns the URL (a loopback port that stays the same for the daemon's life) and the SSH
connection behind it, on a data channel of its own; this command only asks for it, prints it and
returns. ``--close`` ends it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from bridge.cli import output, rpc
from bridge.cli.context import JsonOpt, ProfileOpt, RegionOpt, aws_context
from bridge.cli.progress import ProgressDisplay
from bridge.cli.space_pick import choose_space
from bridge.cli.spaces_cmd import OPEN_TIMEOUT, MaybeSpaceArg, TimeoutOpt


def kernels_cmd(
    ctx: typer.Context,
    space: MaybeSpaceArg = None,
    close: Annotated[
        bool, typer.Option("--close", help="End the space's Jupyter forward.")
    ] = False,
    timeout: TimeoutOpt = OPEN_TIMEOUT,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Run local notebooks on a space's kernels through a local Jupyter server URL.

    Paste the URL into VS Code ("Select Kernel", "Existing Jupyter Server") or a browser.

    Starts the space if needed. JupyterLab spaces serve their own Jupyter; in a CodeEditor space one is started, with a token, when `jupyter` is installed there.
    """
    aws = aws_context(ctx, profile, region)
    space = space or choose_space(ctx, aws)
    params = {**aws.params(), "space": space}
    if close:
        closed = rpc.call("jupyter.close", params)
        if json_out:
            output.print_json(closed)
        else:
            output.stdout.print(
                f"Closed the Jupyter forward of {closed.get('closed', space)} "
                f"(127.0.0.1:{closed.get('local_port')})."
            )
        return
    with ProgressDisplay(space, "kernels") as progress:
        info = rpc.call("jupyter.ensure", params, timeout=timeout, on_notification=progress)
    if json_out:
        output.print_json(info)
        return
    _show(info)


def _show(info: dict[str, Any]) -> None:
    specs = info.get("kernelspecs") or {}
    names = ", ".join(
        f"{name} ({spec.get('spec', {}).get('display_name', name)})"
        if isinstance(spec, dict)
        else name
        for name, spec in sorted(specs.items())
    )
    running = len(info.get("kernels") or [])
    # The URL alone on its line, flushed: what a user copies and a script greps for.
    print(f"\n    {info['connect_url']}\n", flush=True)
    # Kernel display names come from the space's own Jupyter server: shown escaped, no markup.
    output.stdout.print(
        Text(
            output.safe(
                f"Jupyter server of {info['space']} ({info.get('app_type')}): "
                f"kernels {names or 'none'}; {running} running."
            )
        )
    )
    output.stdout.print(
        'VS Code: "Select Kernel" → "Existing Jupyter Server" → paste the URL. '
        "Or open it in a browser.\n"
        f"It stays up while the daemon runs; `smconnect kernels {info['space']} --close` ends it."
    )


def register(app: typer.Typer) -> None:
    app.command("kernels")(kernels_cmd)
