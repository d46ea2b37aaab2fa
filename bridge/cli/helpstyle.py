"""How ``--help`` shows an option's value: nothing for a flag, plain words for a range.

typer 0.29 (which vendors click) labels every option with its Python type in the rich help
panels, flags included: ``--json <bool>``, ``--help <bool>``, although a flag takes no value and
``--json true`` is rejected as an extra argument. Its plain-text formatter already leaves flags
bare (``TyperOption.get_help_record`` checks ``is_flag``); the rich one calls
``display_type_rich`` without that check. Ranges read ``<float range> [x>=1]``.

``install()`` (called once by ``bridge.cli.app``) corrects both display methods of typer's
parameter classes: a flag shows no type, a ranged number shows its bare type and
``[at least 1]`` / ``[at most 9]`` / ``[1 to 65535]``. Parsing is untouched. If a future typer
renames these methods, ``install()`` does nothing and the help is merely uglier.
"""

from __future__ import annotations

from typing import Any

import typer.core as typer_core


def describe_range(low: float | None, high: float | None) -> str | None:
    """``1 to 65535``, ``at least 1``, ``at most 9``; None without bounds."""
    if low is None and high is None:
        return None
    if low is None:
        return f"at most {high}"
    if high is None:
        return f"at least {low}"
    return f"{low} to {high}"


def _option_type(self: Any, ctx: Any) -> str | None:
    if self.metavar is not None:
        return str(self.metavar)
    if getattr(self, "is_flag", False) and not getattr(self, "count", False):
        return None
    label = _bare_label(self, ctx)
    return f"{label}..." if self.nargs != 1 and label is not None else label


def _bare_label(self: Any, ctx: Any) -> str | None:
    descriptor = getattr(self, "type_descriptor", None)
    if descriptor is not None and getattr(descriptor, "is_ranged", False):
        return f"<{self.bare_type()}>"  # the range itself follows in words
    label = _ORIGINAL_DISPLAY_TYPE(self, ctx)
    return None if label is None else str(label)


def _range(self: Any) -> str | None:
    if getattr(self, "count", False) and self.min == 0 and self.max is None:
        return None
    return describe_range(getattr(self, "min", None), getattr(self, "max", None))


_ORIGINAL_DISPLAY_TYPE: Any = getattr(typer_core._TyperParameter, "display_type", None)


def install() -> None:
    """Patch typer's help display (idempotent); see the module docstring for why."""
    option = getattr(typer_core, "TyperOption", None)
    argument = getattr(typer_core, "TyperArgument", None)
    if option is None or argument is None or _ORIGINAL_DISPLAY_TYPE is None:
        return
    option.display_type_rich = _option_type
    argument.display_type_rich = _bare_label
    option._get_number_range_help_str = _range
    argument._get_number_range_help_str = _range
