"""``smconnect emulator ...``: the embedded SageMaker Studio emulator."""

from __future__ import annotations

import contextlib
import logging
import shlex
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from bridge.emulator.config import EmulatorConfig

emulator_app = typer.Typer(help="Run the local SageMaker Studio emulator (no AWS account needed).")


class PacingChoice(StrEnum):
    realistic = "realistic"
    unthrottled = "unthrottled"


@emulator_app.command("serve")
def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="JSON or YAML file: domains, spaces, credentials, delays, faults."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port for the API endpoint (default: the config's, else any)."),
    ] = None,
    pacing: Annotated[
        PacingChoice | None,
        typer.Option("--pacing", help="Data-channel pacing: like the real service, or flat out."),
    ] = None,
    minute_seconds: Annotated[
        float | None,
        typer.Option(
            "--minute-seconds",
            help="Seconds one emulated minute lasts (idle timeouts, session lifetimes).",
        ),
    ] = None,
    session_limit: Annotated[
        int | None,
        typer.Option("--session-limit", help="Concurrent SSM sessions per space (default 10)."),
    ] = None,
    latency_ms: Annotated[
        float | None,
        typer.Option(
            "--latency-ms",
            help="One-way delay in ms on every API call and websocket frame (a long link).",
        ),
    ] = None,
    agent_burst: Annotated[
        int | None,
        typer.Option(
            "--agent-burst",
            help="Messages the agent sends per pacing tick (1-32, default 16; 1: like the real "
            "agent, one websocket message per millisecond).",
        ),
    ] = None,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Serve the API over HTTPS and the data channel as wss://, with a CA made at "
            "start (the printed SSL_CERT_FILE and AWS_CA_BUNDLE make clients trust it).",
        ),
    ] = False,
    hostile: Annotated[
        bool,
        typer.Option("--hostile", help="Add spaces and domains with hostile names (for testing)."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every API call and app transition.")
    ] = False,
) -> None:
    """Serve the emulator in the foreground until interrupted.

    Prints `export NAME=value` lines for AWS_ENDPOINT_URL and the credentials on stdout, so
    `smconnect emulator serve > env.sh` then `source env.sh` points boto3 and the AWS CLI at it.
    """
    import asyncio

    from bridge.emulator.config import default_config
    from bridge.emulator.config_check import ConfigError
    from bridge.emulator.config_load import load_config

    try:
        cfg = load_config(config) if config is not None else default_config()
        cfg = cfg.with_overrides(
            port=port,
            pacing=pacing.value if pacing else None,
            minute_seconds=minute_seconds,
            session_limit=session_limit,
            hostile=True if hostile else None,
            latency_ms=latency_ms,
            agent_burst=agent_burst,
            tls=True if tls else None,
        )
    except ConfigError as exc:
        typer.echo(f"smconnect emulator: {exc}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.WARNING, format="smconnect emulator: %(name)s: %(message)s")
    if verbose:
        logging.getLogger("bridge.emulator").setLevel(logging.INFO)
    try:
        asyncio.run(_serve(cfg))
    except OSError as exc:
        typer.echo(f"smconnect emulator: cannot start: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None


async def _serve(cfg: EmulatorConfig) -> None:
    import asyncio

    from bridge.emulator import Emulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    emulator = Emulator(cfg)
    try:
        await emulator.start()
        for name, value in emulator.env().items():
            sys.stdout.write(f"export {name}={shlex.quote(value)}\n")
        sys.stdout.flush()
        spaces = ", ".join(f"{d.id}/{s.name}" for d in cfg.domains for s in d.spaces)
        typer.echo(
            f"smconnect emulator: serving {emulator.endpoint_url} (spaces: {spaces or 'none'}); "
            "Ctrl-C stops it",
            err=True,
        )
        await stop.wait()
        typer.echo("smconnect emulator: stopping", err=True)
    finally:
        await emulator.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


def register(app: typer.Typer) -> None:
    app.add_typer(emulator_app, name="emulator")
