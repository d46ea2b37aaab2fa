"""A typer group that builds a command only when it is looked up.

typer turns a command into a click command by reading its function's signature: resolving
every annotation (``from __future__ import annotations`` makes each a string to evaluate),
building a click parameter per argument and option. Building all of ``smconnect``'s commands
took ~0.1 CPU s, plus the imports of every command module, and every run paid it although it
runs one command (docs/design/efficiency.md, "CLI start").

``LazyGroup`` knows its commands by name and module (``lazy_commands``, in the order ``--help``
lists them) and builds a module's commands the first time one of them is looked up: running
a command builds its own module's, while ``--help``, completion of a command name and a
typo's "Did you mean" see every name (the last without building anything). A module is
built into a typer app of its own, with the root's help settings, so its commands are the
ones the same ``register(app)`` call would have added to the root. Commands added to the
group directly (``add_command``, ``@app.command`` on the root) come first, as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, ClassVar

import typer
import typer.main
from typer._click import Command  # typer vendors click
from typer.core import MarkupMode, TyperGroup

__all__ = ["LazyCommands", "LazyGroup", "build_module"]


def build_module(
    module_name: str, *, rich_markup_mode: MarkupMode, suggest_commands: bool
) -> dict[str, Command]:
    """The click commands (and sub-groups) that ``module.register(app)`` adds, by name."""
    module = importlib.import_module(module_name)
    app = typer.Typer(
        add_completion=False, rich_markup_mode=rich_markup_mode, suggest_commands=suggest_commands
    )
    module.register(app)
    return dict(typer.main.get_group(app).commands)


class LazyCommands(MutableMapping[str, Command]):
    """A group's commands: the ones given, then ``lazy``'s names, each built on first access."""

    def __init__(
        self,
        eager: Mapping[str, Command],
        lazy: Mapping[str, str],
        load: Callable[[str], dict[str, Command]],  # module name -> its commands
    ) -> None:
        self._eager = dict(eager)
        self._lazy = {name: module for name, module in lazy.items() if name not in self._eager}
        self._load = load
        self._built: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name in self._eager:
            return self._eager[name]
        module = self._lazy[name]  # KeyError: no such command
        if name not in self._built:
            self._built.update(self._load(module))
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._lazy.pop(name, None)
        self._eager[name] = command

    def __delitem__(self, name: str) -> None:
        if name in self._eager:
            del self._eager[name]
        else:
            del self._lazy[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._eager
        yield from self._lazy

    def __len__(self) -> int:
        return len(self._eager) + len(self._lazy)

    def __contains__(self, name: object) -> bool:
        return name in self._eager or name in self._lazy


class LazyGroup(TyperGroup):
    """A ``TyperGroup`` whose ``lazy_commands`` (name → module) are built on first lookup."""

    lazy_commands: ClassVar[Mapping[str, str]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = LazyCommands(self.commands, self.lazy_commands, self._build)

    def _build(self, module_name: str) -> dict[str, Command]:
        return build_module(
            module_name,
            rich_markup_mode=self.rich_markup_mode,
            suggest_commands=self.suggest_commands,
        )

    def list_commands(self, ctx: Any) -> list[str]:
        """Every name, in order, without building any (typer's reads each command)."""
        return list(self.commands)
