"""Small asyncio helpers the channel's supervisor needs and nothing about the protocol."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["consume_exception", "describe", "unless_stopped"]

_T = TypeVar("_T")


async def unless_stopped(coro: Coroutine[Any, Any, _T], stop: asyncio.Future[Any]) -> _T | None:
    """Run ``coro`` unless ``stop`` completes first (then cancel it and return None)."""
    task = asyncio.create_task(coro)
    waiting: list[asyncio.Future[Any]] = [task, stop]
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()


def consume_exception(future: asyncio.Future[Any]) -> None:
    """A channel nobody waits on must not log 'exception was never retrieved'."""
    if not future.cancelled():
        future.exception()


def describe(exc: BaseException) -> str:
    """An exception in one line for an error message: its type, and its text if any."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
