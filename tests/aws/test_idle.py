"""A running app's idle clock through unmodified boto3 against the emulator: the space's own
IdleTimeoutInMinutes or the domain's default, LastUserActivityTimestamp, and the projected
shutdown in (scaled) minutes; nothing for a stopped app or a domain without idle shutdown."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from bridge.aws.studio import StudioClient
from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import DelaysConfig, DomainConfig, SpaceConfig, default_config

from .aws_helpers import studio_on

FAST = DelaysConfig(app_start=0.1, app_stop=0.1, space_update=0.1, start_session_failure_window=0)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    base = default_config()
    seed = base.domains[0]
    timed = DomainConfig(
        seed.id,
        seed.name,
        seed.user_profiles,
        (
            SpaceConfig(
                name="own", app_type="CodeEditor", app_running=True, idle_timeout_minutes=60
            ),
            SpaceConfig(name="inherits", app_type="CodeEditor", app_running=True),
            SpaceConfig(name="stopped", app_type="CodeEditor"),
        ),
        idle_timeout_minutes=120,
    )
    untimed = DomainConfig(
        "d-emulator00002",
        "untimed",
        seed.user_profiles,
        (SpaceConfig(name="free", app_type="CodeEditor", app_running=True),),
    )
    config = dataclasses.replace(base, domains=(timed, untimed), delays=FAST)
    with start_in_thread(config) as handle:
        yield handle


@pytest.fixture
def studio(emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> StudioClient:
    return studio_on(emulator, monkeypatch)


def test_the_idle_clock_of_running_apps(studio: StudioClient) -> None:
    spaces = {s.name: s for s in studio.list_spaces()}
    own = studio.idle_state(spaces["own"])
    assert own is not None
    assert own.idle_timeout_minutes == 60
    assert own.last_activity is not None and own.running_since is not None
    assert abs(own.last_activity - time.time()) < 600
    assert own.shutdown_at() == own.last_activity + 3600
    assert own.shutdown_at(0.5) == own.last_activity + 30  # an emulator's half-second minutes
    inherits = studio.idle_state(spaces["inherits"])
    assert inherits is not None and inherits.idle_timeout_minutes == 120
    free = studio.idle_state(spaces["free"])
    assert free is not None and free.idle_timeout_minutes is None and free.shutdown_at() is None
    assert studio.idle_state(spaces["stopped"]) is None
