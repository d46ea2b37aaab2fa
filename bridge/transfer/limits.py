"""The chunk sizes of a striped copy: the default and the range a caller may choose.

Apart from the planner (``plan.py``) so that ``smconnect cp`` can check ``--chunk`` without
importing the planner and the lanes behind it (docs/design/efficiency.md, "CLI start")."""

from __future__ import annotations

__all__ = ["CHUNK", "MAX_CHUNK", "MIN_CHUNK"]

CHUNK = 4 << 20  # a large file's unit of striping (and of resume)
MIN_CHUNK, MAX_CHUNK = 64 << 10, 64 << 20  # the range a caller may choose
