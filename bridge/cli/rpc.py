"""Synchronous calls into the daemon for the commands (each command is one short-lived loop)."""

from __future__ import annotations

import asyncio
from typing import Any

from bridge.cli.errors import CliError
from bridge.daemon.client import DaemonClient, NotificationHandler


def call(
    method: str,
    params: dict[str, Any] | None = None,
    *,
    timeout: float = 60.0,
    on_notification: NotificationHandler | None = None,
    autostart: bool = True,
) -> dict[str, Any]:
    """One call on a fresh connection; the daemon is started if needed (unless told not to)."""

    async def run() -> Any:
        async with DaemonClient.connect(autostart=autostart) as client:
            return await client.call(
                method, params, timeout=timeout, on_notification=on_notification
            )

    result = asyncio.run(run())
    if not isinstance(result, dict):
        raise CliError(f"the daemon answered {method} with {type(result).__name__}, not an object")
    return result
