"""Synchronous calls into the daemon for the commands (each command is one short-lived loop).

The daemon client (websockets, asyncio) is imported by the call, not with this module, so a
command that never reaches the daemon (``--help``, a usage error) does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.cli.errors import CliError

if TYPE_CHECKING:
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
    import asyncio

    from bridge.daemon.client import DaemonClient

    async def run() -> Any:
        async with DaemonClient.connect(autostart=autostart) as client:
            return await client.call(
                method, params, timeout=timeout, on_notification=on_notification
            )

    result = asyncio.run(run())
    if not isinstance(result, dict):
        raise CliError(f"the daemon answered {method} with {type(result).__name__}, not an object")
    return result


async def stopped_space(client: DaemonClient, params: dict[str, Any]) -> str | None:
    """The name of ``params["space"]`` if its app no longer runs (the usual reason a copy or a
    kernel connection dies under us), from a fresh listing in the same AWS context; None when
    it runs or cannot be told."""
    from bridge.daemon.client import DaemonError

    keys: tuple[str, ...] = ("profile", "region", "endpoint_url")
    context = {k: params[k] for k in keys if k in params}
    try:
        listed = await client.call("spaces.list", {**context, "refresh": True}, timeout=60.0)
    except DaemonError:
        return None
    wanted = params["space"]
    matches = [s for s in listed.get("spaces", []) if wanted in (s.get("name"), s.get("ref"))]
    if len(matches) == 1 and matches[0].get("app_status") != "InService":
        return str(matches[0]["name"])
    return None
