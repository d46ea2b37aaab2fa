"""``bridge.cli.coercion`` converts what typer's own (pydantic) converter converts, to the same
value, and leaves everything else to it: compared on every parameter of every real command,
with real typer and pydantic, for the values a user types and a few they should not."""

from __future__ import annotations

from enum import Enum
from typing import Any, get_origin

import pytest
import typer.main
from typer._click import Command, Context
from typer._coercion import build_runtime_param

from bridge.cli.app import app
from bridge.cli.coercion import SLOW, QuickParam, quick_value

_NUMBERS: tuple[Any, ...] = ("0", "1", "7", "007", "65535", "+3", " 4", "-1", "1.5", "01.50")
_NUMBERS += ("1.", ".5", "1e3", "inf", "nan", "1_000", "x", "", "9" * 30, 3, 2.5, True)
_SAMPLES: dict[Any, tuple[Any, ...]] = {
    str: ("demo", "", "-", "ünï", "a b"),
    int: _NUMBERS,
    float: _NUMBERS,
    bool: (True, False),
    list: (("a", "b"), ["a"], (), ("a", "")),
}


def _parameters() -> list[tuple[str, Any, Context]]:
    """(command path and option, typer parameter, a context of its command), all commands."""
    found: list[tuple[str, Any, Context]] = []

    def walk(command: Command, path: str, parent: Context | None) -> None:
        ctx = Context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
        found.extend((f"{path} {p.name}", p, ctx) for p in command.params if _typed(p))
        for name in getattr(command, "list_commands", lambda _ctx: [])(ctx):
            walk(command.get_command(ctx, name), f"{path} {name}", ctx)  # type: ignore[attr-defined]

    walk(typer.main.get_command(app), "smconnect", None)
    return found


def _typed(parameter: Any) -> bool:
    return getattr(parameter, "type_descriptor", None) is not None


def _samples(annotation: Any) -> tuple[Any, ...]:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        members = list(annotation)
        values = [m.value for m in members]
        return (*members, *values, *(str(v).upper() for v in values), "nope", 1)
    return _SAMPLES.get(get_origin(annotation) or annotation, ("x",))


def _outcome(convert: Any, value: Any, param: Any, ctx: Context) -> tuple[str, Any]:
    try:
        result = convert(value, param=param, ctx=ctx)
    except Exception as exc:  # the error a user sees
        return "error", (type(exc).__name__, str(getattr(exc, "message", exc)))
    return "value", (type(result).__name__, repr(result))  # repr: nan is not nan


PARAMETERS = _parameters()


@pytest.mark.parametrize(("where", "param", "ctx"), PARAMETERS, ids=[p[0] for p in PARAMETERS])
def test_a_quick_conversion_is_the_one_typer_makes(where: str, param: Any, ctx: Context) -> None:
    descriptor = param.type_descriptor
    typers = build_runtime_param(descriptor)
    quick = QuickParam(descriptor)
    for value in (None, *_samples(descriptor.annotation)):
        if param.multiple or param.nargs == -1:
            value = value if value is None or isinstance(value, (list, tuple)) else (value,)
        theirs = _outcome(typers.coerce, value, param, ctx)
        assert _outcome(quick.coerce, value, param, ctx) == theirs, (where, value)


def test_the_plain_values_are_settled_without_typers_converter() -> None:
    """Else the comparison above compares typer with itself, and pydantic is back."""
    by_kind: dict[str, list[Any]] = {}
    for where, param, ctx in PARAMETERS:
        descriptor = param.type_descriptor
        annotation = descriptor.annotation
        if annotation in (int, float):
            value: Any = "7" if descriptor.parameter_info.min in (None, 0, 1) else SLOW
        elif annotation is str:
            value = "demo"
        elif isinstance(annotation, type) and issubclass(annotation, Enum):
            value = next(iter(annotation)).value
        elif get_origin(annotation) is list:
            value = ("a", "b")
        else:
            continue
        if value is not SLOW:
            settled = quick_value(descriptor, value, ctx)
            by_kind.setdefault(getattr(annotation, "__name__", "list"), []).append(settled)
            assert settled is not SLOW, where
    assert {"int", "float", "str", "list"} <= set(by_kind)  # the app has each kind
