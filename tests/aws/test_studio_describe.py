"""Describing a space on a long link: the calls that do not depend on each other go out at
once, the domain's name is asked once, and a connection's description skips the activity call.
Unmodified boto3 against the emulator with ``latency_ms``; the calls are seen through
botocore's own events."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bridge.aws.session import make_session
from bridge.aws.studio import StudioClient
from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import DomainConfig, SpaceConfig, default_config

LATENCY_MS = 100.0  # one way: a call takes at least 200 ms, so overlap is plain to see
DOMAIN = "d-emulator00001"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    base = default_config()
    seed = base.domains[0]
    running = SpaceConfig(name="busy", app_running=True)
    domain = DomainConfig(seed.id, seed.name, seed.user_profiles, (*seed.spaces, running))
    config = dataclasses.replace(base, domains=(domain,), latency_ms=LATENCY_MS)
    with start_in_thread(config) as handle:
        yield handle


class Calls:
    """Each SageMaker call's name and when it was sent and answered (botocore's events)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, float]] = []
        self.answered: list[tuple[str, float]] = []

    def before(self, model: Any, **_: Any) -> None:
        self.sent.append((model.name, time.monotonic()))

    def after(self, model: Any, **_: Any) -> None:
        self.answered.append((model.name, time.monotonic()))

    def names(self) -> list[str]:
        return sorted(name for name, _ in self.sent)

    def clear(self) -> None:
        self.sent.clear()
        self.answered.clear()


@pytest.fixture
def traced(emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> tuple[StudioClient, Calls]:
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    session = make_session()
    calls = Calls()
    session.events.register("before-call.sagemaker", calls.before)
    session.events.register("after-call.sagemaker", calls.after)
    return StudioClient(session, poll_interval=0.05), calls


def test_independent_describe_calls_overlap(traced: tuple[StudioClient, Calls]) -> None:
    studio, calls = traced
    space = studio.describe_space(DOMAIN, "demo")
    assert space.domain_name and space.arn.endswith(":space/d-emulator00001/demo")
    assert calls.names() == ["DescribeDomain", "DescribeSpace", "ListApps"]
    # Every call was sent before the first answer came back: one round trip, not three.
    assert max(t for _, t in calls.sent) < min(t for _, t in calls.answered)


def test_domain_name_is_asked_once_and_activity_only_when_wanted(
    traced: tuple[StudioClient, Calls],
) -> None:
    studio, calls = traced
    first = studio.describe_space(DOMAIN, "busy")
    assert first.running and first.last_activity is not None
    assert calls.names() == ["DescribeApp", "DescribeDomain", "DescribeSpace", "ListApps"]
    (app_sent,) = [t for name, t in calls.sent if name == "DescribeApp"]
    (apps_answered,) = [t for name, t in calls.answered if name == "ListApps"]
    assert app_sent >= apps_answered  # it needs ListApps' app

    calls.clear()
    for_connection = studio.describe_space(DOMAIN, "busy", activity=False)
    assert calls.names() == ["DescribeSpace", "ListApps"]  # the domain's name is remembered
    assert for_connection.domain_name == first.domain_name
    assert for_connection.running and for_connection.arn == first.arn
    assert for_connection.app_created == first.app_created  # the app run: same host key
    assert for_connection.last_activity is None
