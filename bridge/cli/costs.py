"""What a running space costs, as table cells: uptime, projected idle shutdown, hourly price.

``list`` and ``status`` show the same three columns from the same space fields (docs/cli.md):
``running_since``, ``idle_shutdown_at`` / ``idle_timeout_minutes`` and ``price_per_hour`` with
``currency`` (and ``price_source``: an emulated figure says so).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bridge.cli import output
from bridge.timestamps import parse_rfc3339

if TYPE_CHECKING:
    from rich.text import Text

COLUMNS = ("Up", "Idle stop", "Price")


def describe_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _seconds_since(stamp: Any, now: float) -> float | None:
    try:
        return now - parse_rfc3339(str(stamp)).timestamp()
    except ValueError:
        return None


def cost_cells(space: Mapping[str, Any], now: Callable[[], float] = time.time) -> list[Text]:
    """The three cells for one space ("-" where it is not running or nothing is known)."""
    from rich.text import Text

    if not space.get("running_since"):
        return [Text("-"), Text("-"), Text("-")]
    t = now()
    up = _seconds_since(space["running_since"], t)
    idle = "off"
    if space.get("idle_shutdown_at"):
        left = _seconds_since(space["idle_shutdown_at"], t)
        idle = "-" if left is None else f"in {describe_duration(-left)}" if left < 0 else "due"
    price = "-"
    if isinstance(space.get("price_per_hour"), (int, float)):
        price = f"{space['price_per_hour']:g} {space.get('currency')}/h"
        if space.get("price_source") == "emulated":
            price += " (emulated)"
    return [
        Text("-" if up is None else describe_duration(up)),
        output.cell(idle),
        output.cell(price),
    ]
