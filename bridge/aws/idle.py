"""A running app's idle-shutdown clock, as SageMaker keeps it: what the keep-alive watches.

The service stops an app once ``now - LastUserActivityTimestamp`` (``DescribeApp``) reaches
the space's ``IdleTimeoutInMinutes`` (``SpaceSettings.<AppType>AppSettings.
AppLifecycleManagement.IdleSettings``, else the domain's default for spaces). The activity time
comes from the space's heartbeat file, whose path and format live here, in one constant each
(docs/design/aws-facts.md §5: read from the AWS Toolkit, not documented by AWS).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["HEARTBEAT_COMMAND", "HEARTBEAT_FILE", "IdleState", "idle_state_from", "idle_timeout"]

HEARTBEAT_FILE = ".sagemaker-last-active-timestamp"
"""In the space's ``/tmp`` (``$TMPDIR`` in the emulator, where each space has its own)."""

HEARTBEAT_COMMAND = (
    f'f="${{TMPDIR:-/tmp}}/{HEARTBEAT_FILE}"; '
    'printf %s "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" > "$f.$$" && mv -f "$f.$$" "$f"'
)
"""Overwrite the heartbeat with the space's own UTC time (the clock the service compares with),
in the Toolkit's format: ``2026-03-05T18:50:57.123Z``, no newline; renamed into place so a
reader never sees half a timestamp."""


@dataclass(frozen=True, slots=True)
class IdleState:
    """One look at a running app's idle clock (times are epoch seconds)."""

    running_since: float | None  # the app's CreationTime
    last_activity: float | None  # LastUserActivityTimestamp (None: not reported)
    idle_timeout_minutes: int | None  # None: idle shutdown is off for this space

    def shutdown_at(self, minute: float = 60.0) -> float | None:
        """When the service stops the app if nothing happens (``minute`` seconds per minute:
        an emulator's ``--minute-seconds``); None when idle shutdown is off or unknown."""
        if self.idle_timeout_minutes is None or self.last_activity is None:
            return None
        return self.last_activity + self.idle_timeout_minutes * minute


def idle_timeout(space: dict[str, Any], domain: dict[str, Any] | None = None) -> int | None:
    """IdleTimeoutInMinutes from DescribeSpace, else from DescribeDomain's space defaults.

    A domain whose default says ``LifecycleManagement: DISABLED`` has idle shutdown off.
    """
    settings = space.get("SpaceSettings") or {}
    app_key = f"{settings.get('AppType')}AppSettings"
    own = _minutes(settings.get(app_key))
    if own is not None or domain is None:
        return own
    defaults = domain.get("DefaultSpaceSettings") or {}
    return _minutes(defaults.get(app_key))


def idle_state_from(app: dict[str, Any], timeout_minutes: int | None) -> IdleState:
    """The idle clock from a DescribeApp answer and the space's timeout."""
    return IdleState(
        running_since=_epoch(app.get("CreationTime")),
        last_activity=_epoch(app.get("LastUserActivityTimestamp")),
        idle_timeout_minutes=timeout_minutes,
    )


def _minutes(app_settings: object) -> int | None:
    if not isinstance(app_settings, dict):
        return None
    idle = (app_settings.get("AppLifecycleManagement") or {}).get("IdleSettings") or {}
    if idle.get("LifecycleManagement") == "DISABLED":
        return None
    value = idle.get("IdleTimeoutInMinutes")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 525600:
        return value
    return None


def _epoch(value: object) -> float | None:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.timestamp()
    return None
