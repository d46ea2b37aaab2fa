"""Parameter conversion without pydantic for the plain values our commands take.

typer 0.29 converts every parameter of the command it runs (the root's ``--profile`` and
``--region`` included, even when absent) through a pydantic ``TypeAdapter`` it builds on first
use. Importing pydantic (and ``importlib.metadata`` through its plugin loader) and building
the adapters cost ~0.15 CPU s per run, a third of what a ``status --json`` cost
(docs/design/efficiency.md, "CLI start").

``install()`` (called once by ``bridge.cli.app``) gives typer's parameters a runtime converter
that settles the common cases itself: an absent value; a ``str``; a list of ``str``; an ``int``
or ``float`` given as plain decimal digits (or as a number), within its range; a member of an
``Enum`` choice, matched by typer's own ``coerce_cli_choice``. Each yields what typer's
adapter yields (``tests/cli/test_cli_coercion.py`` compares them on real typer). Anything else
(a bad value, a range error, ``1e3``, a path, a custom parser) goes to typer's own converter,
so every error message is typer's, word for word. If a future typer renames what this patches,
``install()`` does nothing and the CLI is merely slower.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, get_args, get_origin

import typer.core as typer_core

__all__ = ["SLOW", "QuickParam", "install", "quick_value"]

_DIGITS = re.compile(r"[0-9]{1,18}")
_DECIMAL = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,18})?")


class _Slow:
    """The marker for "ask typer": the quick path does not settle this value."""


SLOW = _Slow()


def _in_range(value: float, info: Any) -> bool:
    return (info.min is None or value >= info.min) and (info.max is None or value <= info.max)


def _number(annotation: type[float], value: Any, info: Any) -> Any:
    number: float
    if type(value) is annotation:
        number = value
    elif annotation is float and type(value) is int:
        number = float(value)
    elif type(value) is str and (_DIGITS if annotation is int else _DECIMAL).fullmatch(value):
        number = annotation(value)
    else:
        return SLOW
    return number if _in_range(number, info) else SLOW


def _choice(annotation: type[Enum], value: Any, info: Any, ctx: Any) -> Any:
    from typer._param_types import coerce_cli_choice  # what typer's adapter calls

    try:
        return coerce_cli_choice(
            value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx
        )
    except ValueError:
        return SLOW


def quick_value(descriptor: Any, value: Any, ctx: Any) -> Any:
    """What typer's converter makes of ``value`` (not None), or ``SLOW`` to ask typer.

    ``descriptor`` is the parameter's ``type_descriptor`` (typer's ``TypeDescriptor``)."""
    annotation, info = descriptor.annotation, descriptor.parameter_info
    if info.parser is not None or descriptor.file_annotation is not None:
        return SLOW
    if annotation is str:
        return value if type(value) is str else SLOW
    if annotation is bool:
        return value if type(value) is bool else SLOW
    if annotation is int or annotation is float:
        return _number(annotation, value, info)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _choice(annotation, value, info, ctx)
    strings = get_origin(annotation) is list and get_args(annotation) == (str,)
    if strings and isinstance(value, (list, tuple)) and all(type(i) is str for i in value):
        return list(value)
    return SLOW


class QuickParam:
    """typer's runtime converter contract (``coerce``), quick where ``quick_value`` is."""

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self._typers: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = param.multiple or param.nargs == -1
        if value is None:  # as typer's RuntimeParam.coerce: absent is None, or () for many
            return () if multiple else None
        if not (multiple and isinstance(value, str)):
            quick = quick_value(self.descriptor, value, ctx)
            if quick is not SLOW:
                return quick
        if self._typers is None:
            from typer._coercion import build_runtime_param

            self._typers = build_runtime_param(self.descriptor)
        return self._typers.coerce(value, param=param, ctx=ctx)


def _get_runtime_param(self: Any) -> Any:
    if self._runtime_param is None:
        self._runtime_param = QuickParam(self.type_descriptor)
    return self._runtime_param


def install() -> None:
    """Patch typer's parameters to convert through ``QuickParam`` (idempotent)."""
    parameter = getattr(typer_core, "_TyperParameter", None)
    try:
        from typer._coercion import build_runtime_param  # noqa: F401
        from typer._param_types import coerce_cli_choice  # noqa: F401
    except ImportError:  # pragma: no cover - another typer
        return
    if parameter is not None and hasattr(parameter, "get_runtime_param"):
        parameter.get_runtime_param = _get_runtime_param
