"""Helpers every test folder shares: polling for an outcome, the session-end log scan's
registry (``log_scan``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Call ``probe`` until it returns something truthy and return that; after ``timeout``
    seconds return its last (falsy) answer, so the caller's ``assert`` names what it waited
    for. For outcomes another process or thread brings about: nothing here sleeps longer than
    ``interval`` past the moment the outcome is there."""
    deadline = time.monotonic() + timeout
    while not (value := probe()) and time.monotonic() < deadline:
        time.sleep(interval)
    return value


async def wait_until_async(
    probe: Callable[[], T], timeout: float = 10.0, interval: float = 0.05
) -> T:
    """``wait_until`` for a test on the event loop: the loop keeps running while it polls."""
    deadline = time.monotonic() + timeout
    while not (value := probe()) and time.monotonic() < deadline:
        await asyncio.sleep(interval)
    return value
