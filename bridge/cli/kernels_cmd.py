"""``smconnect kernels``: a local URL for a space's Jupyter server, for local notebooks.

The daemon owns the URL (a loopback port that stays the same for the daemon's life) and the SSH
connection behind it, on a data channel of its own; this command only asks for it, prints it and
returns. ``--close`` ends it. ``--wait`` stays in the foreground instead: Ctrl-C ends the
forward, and a space that stops under it (its kernels gone) ends the command with one line and
a non-zero exit, so nothing ends silently.
"""

from __future__ import annotations

import contextlib
import signal
import time
from typing import Annotated, Any

import typer

from bridge.cli import output, rpc
from bridge.cli.context import JsonOpt, ProfileOpt, RegionOpt, aws_context
from bridge.cli.errors import CliError, ExitCode
from bridge.cli.progress import ProgressDisplay
from bridge.cli.space_pick import choose_space
from bridge.cli.spaces_cmd import OPEN_TIMEOUT, MaybeSpaceArg, TimeoutOpt

POLL = 1.0  # seconds between looks at the forward while waiting
RECHECK = 15.0  # seconds between AWS looks at a space whose connection is down


def kernels_cmd(
    ctx: typer.Context,
    space: MaybeSpaceArg = None,
    close: Annotated[
        bool, typer.Option("--close", help="End the space's Jupyter forward.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Stay in the foreground until Ctrl-C (which ends the forward); "
            "if the space stops meanwhile, say so and exit 1.",
        ),
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
    import asyncio

    aws = aws_context(ctx, profile, region)
    space = space or choose_space(ctx, aws)
    params = {**aws.params(), "space": space}
    if close:
        closed = rpc.call("jupyter.close", params)
        if json_out:
            output.print_json(closed)
        else:
            output.stdout().print(
                f"Closed the Jupyter forward of {closed.get('closed', space)} "
                f"(127.0.0.1:{closed.get('local_port')})."
            )
        return
    with ProgressDisplay(space, "kernels") as progress:
        info = rpc.call("jupyter.ensure", params, timeout=timeout, on_notification=progress)
    if json_out:
        output.print_json(info)
    else:
        _show(info)
    if wait:
        asyncio.run(_wait({**params, "space": str(info["space"])}))


async def _wait(params: dict[str, Any]) -> None:
    """Until Ctrl-C, watch the forward: when its connection to the space is down, ask AWS
    (at most every ``RECHECK`` s) whether the space stopped, and end with one line if so."""
    import asyncio

    from bridge.daemon.client import DaemonClient, DaemonError

    name = params["space"]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    async with DaemonClient.connect(autostart=False) as client:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        recheck = 0.0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL)
            try:
                servers = (await client.call("jupyter.list", timeout=10.0))["servers"]
            except DaemonError:
                raise CliError(
                    "the connection to the smconnect daemon was lost; the Jupyter URL is gone",
                    ExitCode.DAEMON,
                ) from None
            mine = [s for s in servers if s.get("space") == name]
            if not mine:
                raise CliError(f"the Jupyter forward of {name} was closed")
            if mine[0].get("state") == "connected" or time.monotonic() < recheck:
                continue
            recheck = time.monotonic() + RECHECK
            if await rpc.stopped_space(client, params) is not None:
                raise CliError(
                    f"space {name!r} stopped: its kernels are gone "
                    f"(`smconnect kernels {name}` starts it again, at the same URL)"
                )
        await client.call("jupyter.close", params, timeout=30.0)
    output.say(f"closed the Jupyter forward of {name}")


def _show(info: dict[str, Any]) -> None:
    from rich.text import Text

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
    output.stdout().print(
        Text(
            output.safe(
                f"Jupyter server of {info['space']} ({info.get('app_type')}): "
                f"kernels {names or 'none'}; {running} running."
            )
        )
    )
    output.stdout().print(
        'VS Code: "Select Kernel" → "Existing Jupyter Server" → paste the URL. '
        "Or open it in a browser.\n"
        f"It stays up while the daemon runs; `smconnect kernels {info['space']} --close` ends it."
    )


def register(app: typer.Typer) -> None:
    app.command("kernels")(kernels_cmd)
