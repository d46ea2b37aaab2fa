"""Idle shutdown: the ``AppLifecycleManagement.IdleSettings`` shapes and their validation, and
the watch that stops an app whose space reported no user activity for its idle timeout.

As on the service [I: it polls the space's ``/api/idle`` every minute], the watch asks the
running space for its last activity once per emulated minute (``minute_seconds``), records it as
the app's ``LastUserActivityTimestamp`` and, once the space has been idle for at least its
``IdleTimeoutInMinutes``, deletes the app (Deleting -> Deleted; the space and its files stay).
The timeout is read from the space at each check, so UpdateSpace applies to a running app.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from bridge.emulator.config import IDLE_TIMEOUT_BOUNDS, EmulatorConfig
from bridge.emulator.control.errors import validation

if TYPE_CHECKING:
    from bridge.emulator.control.state import App, Domain, Space

log = logging.getLogger(__name__)


def space_lifecycle(space: Space) -> dict[str, Any]:
    """``<AppType>AppSettings`` members for DescribeSpace (empty when idle shutdown is off)."""
    if space.idle_timeout is None:
        return {}
    return {
        "AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": space.idle_timeout}}
    }


def domain_lifecycle(domain: Domain) -> dict[str, Any]:
    """The domain-level defaults (DescribeDomain's Default{User,Space}Settings)."""
    if domain.idle_timeout is None:
        settings: dict[str, Any] = {"LifecycleManagement": "DISABLED"}
    else:
        low, high = IDLE_TIMEOUT_BOUNDS
        settings = {
            "LifecycleManagement": "ENABLED",
            "IdleTimeoutInMinutes": domain.idle_timeout,
            "MinIdleTimeoutInMinutes": low,
            "MaxIdleTimeoutInMinutes": high,
        }
    return {"AppLifecycleManagement": {"IdleSettings": settings}}


def parse_space_idle(app_settings: dict[str, Any], member: str) -> int | None:
    """``IdleTimeoutInMinutes`` from UpdateSpace's ``<AppType>AppSettings`` (None: not given),
    checked with AWS's request-validation texts; ``member`` is the settings' wire path."""
    lifecycle = app_settings.get("AppLifecycleManagement")
    if lifecycle is None:
        return None
    if not isinstance(lifecycle, dict) or not isinstance(lifecycle.get("IdleSettings") or {}, dict):
        raise validation(f"{member}.appLifecycleManagement must be a structure.")
    value = (lifecycle.get("IdleSettings") or {}).get("IdleTimeoutInMinutes")
    if value is None:
        return None
    where = f"{member}.appLifecycleManagement.idleSettings.idleTimeoutInMinutes"
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation(f"IdleTimeoutInMinutes must be an integer (at '{where}').")
    low, high = IDLE_TIMEOUT_BOUNDS
    if not low <= value <= high:
        bound = (
            f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
        )
        raise validation(
            f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )
    return value


class _Plane(Protocol):
    """What idle shutdown needs of the control plane (which starts it: no import back)."""

    config: EmulatorConfig

    def clock(self) -> float: ...

    def retire(self, app: App) -> None: ...


async def watch_idle(plane: _Plane, app: App, space: Space) -> None:
    """Poll the running app's space each emulated minute until it stops or idles out."""
    while app.status == "InService" and app.runtime is not None:
        await asyncio.sleep(plane.config.minute_seconds)
        runtime = app.runtime
        if app.status != "InService" or runtime is None:
            return
        try:
            reported = await runtime.last_activity()
        except Exception:
            log.exception("could not read the activity of space %s", space.name)
            reported = None
        if reported is not None and (app.last_activity is None or reported > app.last_activity):
            app.last_activity = reported
        timeout = space.idle_timeout
        since = app.last_activity if app.last_activity is not None else app.created
        if timeout is not None and plane.clock() - since >= timeout * plane.config.minute_seconds:
            log.info("app %s idle for %d minutes: idle shutdown", app.arn, timeout)
            plane.retire(app)
            return
