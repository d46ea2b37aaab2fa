"""Helpers for the emulator tests: configs, boto3 clients, polling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
from botocore.config import Config

from bridge.emulator import EmulatorThread
from bridge.emulator.config import (
    DelaysConfig,
    DomainConfig,
    EmulatorConfig,
    SpaceConfig,
    default_config,
)
from tests.support import wait_until

DOMAIN = "d-emulator00001"
FAST = DelaysConfig(app_start=0.1, app_stop=0.1, space_update=0.1, start_session_failure_window=0.3)
# botocore counts "max_attempts" as retries (1 means one retry); "total_max_attempts" as tries.
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def make_config(**changes: Any) -> EmulatorConfig:
    """The default seed plus CodeEditor spaces (their runtime starts in milliseconds)."""
    base = default_config()
    seed = base.domains[0]
    spaces = (
        *seed.spaces,
        SpaceConfig(name="ce1", app_type="CodeEditor"),
        SpaceConfig(name="ce2", app_type="CodeEditor"),
        SpaceConfig(name="ce-locked", app_type="CodeEditor", remote_access="DISABLED"),
    )
    domains = (DomainConfig(seed.id, seed.name, seed.user_profiles, spaces),)
    return replace(base, **{"domains": domains, "delays": FAST, **changes})


def client(handle: EmulatorThread, service: str, **overrides: Any) -> Any:
    env = handle.env
    session = boto3.Session(
        aws_access_key_id=overrides.pop("key", env["AWS_ACCESS_KEY_ID"]),
        aws_secret_access_key=overrides.pop("secret", env["AWS_SECRET_ACCESS_KEY"]),
        aws_session_token=overrides.pop("token", None),
        region_name=overrides.pop("region", env["AWS_DEFAULT_REGION"]),
    )
    config = NO_RETRY
    if not overrides.pop("validate", True):  # let out-of-bounds values reach the emulator
        config = config.merge(Config(parameter_validation=False))
    return session.client(service, endpoint_url=handle.endpoint_url, config=config)


def wait_for(probe: Callable[[], Any], expected: Any, timeout: float = 30.0) -> None:
    """Poll ``probe`` (through the suite's ``wait_until``) until it answers ``expected``."""
    seen: list[Any] = [None]

    def matches() -> bool:
        seen[0] = probe()
        return bool(seen[0] == expected)

    assert wait_until(matches, timeout, 0.02), f"still {seen[0]!r}, wanted {expected!r}"


def app_status(sm: Any, space: str, app_type: str = "CodeEditor") -> str | None:
    try:
        app = sm.describe_app(DomainId=DOMAIN, SpaceName=space, AppType=app_type, AppName="default")
    except sm.exceptions.ResourceNotFound:
        return None
    return str(app["Status"])


def start_app(sm: Any, space: str, app_type: str = "CodeEditor") -> None:
    sm.create_app(DomainId=DOMAIN, SpaceName=space, AppType=app_type, AppName="default")
    wait_for(lambda: app_status(sm, space, app_type), "InService")


def space_arn(space: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:space/{DOMAIN}/{space}"
