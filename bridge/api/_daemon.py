"""How the API reaches the daemon: one call per connection, from sync code in or out of a loop.

A synchronous function called from inside a running event loop (a Jupyter cell) cannot
``asyncio.run`` there ("event loop is already running"), so the call runs on a private thread
with a loop of its own; the caller's loop is held only for that one call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from bridge.api.errors import from_daemon
from bridge.aws.context import AwsContext
from bridge.daemon.client import DaemonClient, DaemonError

T = TypeVar("T")

CALL_TIMEOUT = 60.0
LONG_TIMEOUT = 900.0  # a cold app start (Pending -> InService) can take minutes


@dataclass(frozen=True, slots=True, kw_only=True)
class Context(AwsContext):
    """The identity sent with every call: what the caller gave, else this process's environment
    (its exported credentials or ``AWS_PROFILE``; the daemon never uses its own for us)."""

    @classmethod
    def resolve(cls, profile: str | None, region: str | None) -> Context:
        base = AwsContext.from_env().with_profile(profile)
        return cls(
            profile=base.profile,
            region=region or base.region,
            endpoint_url=base.endpoint_url,
            credentials=base.credentials,
            caller_env=True,
        )


async def call(method: str, params: dict[str, Any], *, timeout: float = CALL_TIMEOUT) -> Any:
    """One daemon call (the daemon is started if none runs); errors as ``SmconnectError``."""
    try:
        async with DaemonClient.connect() as client:
            return await client.call(method, params, timeout=timeout)
    except DaemonError as exc:
        raise from_daemon(exc) from None


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``factory()`` to completion from synchronous code, whether or not a loop runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(1, thread_name_prefix="smconnect-api") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
