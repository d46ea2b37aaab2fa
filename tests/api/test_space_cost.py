"""``smconnect.Space`` carries what ``smconnect list --json`` shows of a space's cost: uptime,
idle settings, projected shutdown and the hourly price (the emulator serves emulated prices)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

import smconnect
from bridge.testing.sandbox import Sandbox
from bridge.timestamps import parse_rfc3339

TIMEOUT = 180  # minutes: far beyond this module's run at the sandbox's minute length


def _set_idle_timeout(sandbox: Sandbox, space: smconnect.Space, minutes: int) -> None:
    sm = boto3.client("sagemaker", endpoint_url=sandbox.emu.endpoint_url)
    idle = {"AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": minutes}}}
    sm.update_space(
        DomainId=space.domain_id,
        SpaceName=space.name,
        SpaceSettings={f"{space.app_type}AppSettings": idle},
    )


def test_a_running_space_shows_uptime_idle_shutdown_and_price(in_sandbox: Sandbox) -> None:
    stopped = smconnect.status("demo")
    assert stopped.running_since is None and stopped.idle_shutdown_at is None
    _set_idle_timeout(in_sandbox, stopped, TIMEOUT)
    space = smconnect.start("demo")
    assert space.running and space.running_since is not None
    assert parse_rfc3339(space.running_since) <= datetime.now(UTC)
    assert space.idle_timeout_minutes == TIMEOUT
    since = parse_rfc3339(space.last_activity or space.running_since)
    assert space.idle_shutdown_at is not None
    assert parse_rfc3339(space.idle_shutdown_at) == since + timedelta(minutes=TIMEOUT)
    assert space.price_per_hour is not None and space.price_per_hour > 0
    assert space.currency == "USD" and space.price_source == "emulated"


def test_a_stopped_space_shows_no_uptime() -> None:
    stopped = smconnect.stop("demo", force=True)
    assert not stopped.running
    assert stopped.running_since is None and stopped.idle_shutdown_at is None
    assert stopped.last_activity is None and stopped.price_per_hour is None
