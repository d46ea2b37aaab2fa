"""Idle shutdown: IdleSettings on UpdateSpace/DescribeSpace/DescribeDomain with the real bounds,
activity from the space's heartbeat file, and the app stopped once idle past its timeout."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.runtime import SpaceRuntime
from bridge.emulator.runtime.activity import HEARTBEAT_NAME

from .emulator_helpers import DOMAIN, app_status, client, make_config, start_app, wait_for

MINUTE = 0.02  # seconds per emulated minute: a 60-minute timeout lasts 1.2 s


@pytest.fixture
def fast_minutes() -> Iterator[EmulatorThread]:
    cfg = make_config(minute_seconds=MINUTE)
    domain = replace(cfg.domains[0], idle_timeout_minutes=120)
    with start_in_thread(replace(cfg, domains=(domain,))) as handle:
        yield handle


def _idle(minutes: Any) -> dict[str, Any]:
    return {
        "CodeEditorAppSettings": {
            "AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": minutes}}
        }
    }


def test_idle_settings_round_trip_and_bounds(fast_minutes: EmulatorThread) -> None:
    sm = client(fast_minutes, "sagemaker")
    domain = sm.describe_domain(DomainId=DOMAIN)
    settings = domain["DefaultSpaceSettings"]["JupyterLabAppSettings"]["AppLifecycleManagement"]
    assert settings["IdleSettings"] == {
        "LifecycleManagement": "ENABLED",
        "IdleTimeoutInMinutes": 120,
        "MinIdleTimeoutInMinutes": 60,
        "MaxIdleTimeoutInMinutes": 525600,
    }
    space = sm.describe_space(DomainId=DOMAIN, SpaceName="ce1")  # seeded from the domain
    lifecycle = space["SpaceSettings"]["CodeEditorAppSettings"]["AppLifecycleManagement"]
    assert lifecycle == {"IdleSettings": {"IdleTimeoutInMinutes": 120}}
    sm.update_space(DomainId=DOMAIN, SpaceName="ce1", SpaceSettings=_idle(600))
    space = sm.describe_space(DomainId=DOMAIN, SpaceName="ce1")
    idle = space["SpaceSettings"]["CodeEditorAppSettings"]["AppLifecycleManagement"]
    assert idle["IdleSettings"]["IdleTimeoutInMinutes"] == 600
    wait_for(lambda: sm.describe_space(DomainId=DOMAIN, SpaceName="ce1")["Status"], "InService")
    raw = client(fast_minutes, "sagemaker", validate=False)
    for bad, bound in (
        (59, "greater than or equal to 60"),
        (525601, "less than or equal to 525600"),
    ):
        with pytest.raises(ClientError) as info:
            raw.update_space(DomainId=DOMAIN, SpaceName="ce1", SpaceSettings=_idle(bad))
        error = info.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert error["Message"] == (
            f"1 validation error detected: Value '{bad}' at 'spaceSettings.codeEditorAppSettings"
            ".appLifecycleManagement.idleSettings.idleTimeoutInMinutes' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )


def _runtime(emu: EmulatorThread, space: str) -> SpaceRuntime:
    app = emu.emulator.plane.account.apps[(DOMAIN, space, "CodeEditor", "default")]
    assert isinstance(app.runtime, SpaceRuntime)
    return app.runtime


def _heartbeat(runtime: SpaceRuntime) -> float:
    now = dt.datetime.now(dt.UTC)
    (runtime.tmp_dir / HEARTBEAT_NAME).write_text(now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    return now.timestamp()


def test_idle_app_stops_and_heartbeat_keeps_one_running(fast_minutes: EmulatorThread) -> None:
    sm = client(fast_minutes, "sagemaker")
    for space in ("ce1", "ce2"):
        sm.update_space(DomainId=DOMAIN, SpaceName=space, SpaceSettings=_idle(60))
        wait_for(lambda s=space: sm.describe_space(DomainId=DOMAIN, SpaceName=s)["Status"],
                 "InService")  # fmt: skip
        start_app(sm, space)
    idle_home = _runtime(fast_minutes, "ce1").home
    (idle_home / "work.txt").write_text("kept")
    busy = _runtime(fast_minutes, "ce2")
    assert busy.tmp_dir != _runtime(fast_minutes, "ce1").tmp_dir
    started = time.monotonic()
    last = 0.0
    while time.monotonic() - started < 60 * MINUTE * 2.5:  # well past the 60-minute timeout
        last = _heartbeat(busy)
        time.sleep(0.1)
    wait_for(lambda: app_status(sm, "ce1"), "Deleted")
    assert app_status(sm, "ce2") == "InService"
    app = sm.describe_app(DomainId=DOMAIN, SpaceName="ce2", AppType="CodeEditor", AppName="default")
    assert abs(app["LastUserActivityTimestamp"].timestamp() - last) < 1.0
    start_app(sm, "ce1")  # the space's files outlive the app
    assert (_runtime(fast_minutes, "ce1").home / "work.txt").read_text() == "kept"


def test_invalid_heartbeat_is_ignored(tmp_path: Any) -> None:
    from bridge.emulator.runtime.activity import heartbeat_time

    (tmp_path / HEARTBEAT_NAME).write_text("yesterday")
    assert heartbeat_time(tmp_path) is None
    (tmp_path / HEARTBEAT_NAME).write_text("2026-03-05T18:50:57.123Z")
    assert (
        heartbeat_time(tmp_path) == dt.datetime(2026, 3, 5, 18, 50, 57, 123000, dt.UTC).timestamp()
    )
