"""Where the CLI writes: results on stdout, progress and problems on stderr.

Keeping stdout for results only means ``--json`` output can always be piped into ``jq``, even
while a space starts and progress messages scroll by on stderr.

rich is imported on first use, not with this module: every command imports this one, and
most (``--json``, errors, ``cp``) print no rich text at all (docs/design/efficiency.md,
"CLI start").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from bridge.aws.validate import plain

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


@cache
def stdout() -> Console:
    """The rich console for results (made once, on first use)."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        # A pipe or a file has no width: 80 columns would fold a table's cells into pieces.
        console.width = 240
    return console


@cache
def stderr() -> Console:
    """The rich console for progress (made once, on first use)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def safe(text: object) -> str:
    """Text for the terminal: anything not printable (control characters, escape sequences,
    lone surrogates) shown escaped, so nothing that came from AWS can drive the terminal."""
    shown = str(text)
    return plain(shown, len(shown))


def cell(value: object, default: str = "-") -> Text:
    """A table cell: escaped like ``safe``, and a ``Text`` so rich reads no markup in it."""
    from rich.text import Text

    return Text(safe(value) if value not in (None, "") else default)


def say(message: str) -> None:
    """One plain line on stderr, prefixed like every smconnect message (no markup, no wrap,
    nothing unprintable)."""
    sys.stdout.flush()
    sys.stderr.write(f"smconnect: {safe(message)}\n")
    sys.stderr.flush()


def warn_rejected(result: Mapping[str, Any]) -> None:
    """One warning line per listed item AWS described invalidly (a daemon answer's
    ``rejected``): the user learns that something was left out, and why."""
    for reason in result.get("rejected") or ():
        say(f"warning: {reason}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def human_bytes(n: float) -> str:
    if abs(n) < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if abs(n) < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} TiB"


def stdin_is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()
