"""The typer application: every command but ``proxy`` (see ``bridge.__main__``)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="smconnect",
    help="Connect local tools to Amazon SageMaker Studio spaces.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register_subcommands() -> None:
    # Each command group lives in its own module and registers itself on ``app``.
    from bridge.cli import emulator_cmd  # noqa: F401


def run() -> None:
    _register_subcommands()
    app()
