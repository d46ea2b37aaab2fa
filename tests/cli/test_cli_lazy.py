"""The root group builds a command only when it is looked up (``bridge.cli.lazy``): its table
(``bridge.cli.app.COMMANDS``) must name what each module's ``register`` really adds, and
what reads every name without building (a typo's suggestion) must still see them all."""

from __future__ import annotations

import typer.main
from typer._click import Context

from bridge.cli.app import COMMANDS, app
from bridge.cli.lazy import build_module

from .cli_helpers import Cli


def test_each_module_registers_exactly_the_commands_the_table_gives_it() -> None:
    for module in dict.fromkeys(COMMANDS.values()):
        built = build_module(module, rich_markup_mode="rich", suggest_commands=True)
        assert list(built) == [name for name, where in COMMANDS.items() if where == module]


def test_the_root_lists_every_command_in_order_and_builds_them_on_lookup() -> None:
    root = typer.main.get_command(app)
    ctx = Context(root, info_name="smconnect")
    assert root.list_commands(ctx) == list(COMMANDS)  # type: ignore[attr-defined]
    for name in COMMANDS:
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        assert command is not None and command.name == name
    assert root.get_command(ctx, "nosuch") is None  # type: ignore[attr-defined]


def test_a_mistyped_command_still_gets_a_suggestion(offline_cli: Cli) -> None:
    offline_cli.run("sttaus").fails(2, "No such command 'sttaus'. Did you mean 'status'?")
