"""``smconnect emulator ...``: the embedded SageMaker Studio emulator."""

from __future__ import annotations

import typer

from bridge.cli.app import app

emulator_app = typer.Typer(help="Run the local SageMaker Studio emulator (no AWS account needed).")
app.add_typer(emulator_app, name="emulator")


@emulator_app.command("serve")
def serve() -> None:
    """Serve the emulator in the foreground until interrupted."""
    typer.echo("the emulator's control plane is not built yet", err=True)
    raise typer.Exit(2)
