"""The Studio client over unmodified boto3 against the emulator: each AWS error code becomes our
clear message, and StartSession leads through the data channel into the space's SSH server."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterator

import boto3
import botocore.exceptions
import pytest

from bridge.aws.errors import (
    AmbiguousSpace,
    AppNotRunning,
    AppStartFailed,
    AppTimeout,
    ConfigurationError,
    CredentialsError,
    RemoteAccessDisabled,
    SpaceNotFound,
)
from bridge.aws.session import SessionSpec, make_session
from bridge.aws.studio import StudioClient
from bridge.aws.studio_space import Space
from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import (
    DelaysConfig,
    DomainConfig,
    FaultsConfig,
    SpaceConfig,
    default_config,
)
from bridge.ssh.over_stream import connect_ssh
from bridge.ssm.transport import open_channel

from .aws_helpers import studio_on

FAST = DelaysConfig(app_start=0.1, app_stop=0.1, space_update=0.1, start_session_failure_window=0.6)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    base = default_config()
    seed = base.domains[0]
    twin_domain = DomainConfig(
        "d-emulator00002",
        "second",
        seed.user_profiles,
        (SpaceConfig(name="editor", app_type="CodeEditor"),),
    )
    extra = (
        SpaceConfig(name="broken", app_type="CodeEditor"),
        SpaceConfig(name="ce", app_type="CodeEditor"),
    )
    domains = (
        DomainConfig(seed.id, seed.name, seed.user_profiles, seed.spaces + extra),
        twin_domain,
    )
    config = dataclasses.replace(
        base, domains=domains, delays=FAST, faults=FaultsConfig(fail_app_start=("broken",))
    )
    with start_in_thread(config) as handle:
        yield handle


@pytest.fixture
def studio(emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> StudioClient:
    return studio_on(emulator, monkeypatch)


def test_lists_spaces_across_domains(studio: StudioClient) -> None:
    spaces = {(s.domain_id, s.name): s for s in studio.list_spaces()}
    demo = spaces[("d-emulator00001", "demo")]
    assert (demo.app_type, demo.remote_access, demo.app_status) == ("JupyterLab", "ENABLED", None)
    assert demo.instance_type == "ml.t3.large"
    assert demo.arn.endswith(":space/d-emulator00001/demo")
    assert spaces[("d-emulator00001", "locked")].remote_access == "DISABLED"
    assert ("d-emulator00002", "editor") in spaces


def test_resolves_names_and_reports_ambiguity_and_absence(studio: StudioClient) -> None:
    assert studio.resolve_space("demo").domain_id == "d-emulator00001"
    assert studio.resolve_space("d-emulator00002/editor").domain_id == "d-emulator00002"
    with pytest.raises(AmbiguousSpace) as ambiguous:
        studio.resolve_space("editor")
    assert set(ambiguous.value.candidates) == {"d-emulator00001/editor", "d-emulator00002/editor"}
    with pytest.raises(SpaceNotFound, match="no space named 'nope'"):
        studio.resolve_space("nope")
    with pytest.raises(SpaceNotFound):
        studio.resolve_space("d-emulator00001/nope")


def test_start_session_refuses_disabled_remote_access(studio: StudioClient) -> None:
    locked = studio.resolve_space("locked")
    with pytest.raises(RemoteAccessDisabled, match="smconnect open locked"):
        studio.start_session(locked)


def test_start_session_on_a_stopped_space_says_how_to_start_it(studio: StudioClient) -> None:
    ce = studio.resolve_space("ce")
    with pytest.raises(AppNotRunning, match="smconnect start ce"):
        studio.start_session(ce)


def test_failed_app_start_is_reported_with_its_reason(studio: StudioClient) -> None:
    broken = studio.resolve_space("broken")
    with pytest.raises(AppStartFailed, match="failed to start"):
        studio.start_app(broken)


def test_app_start_timeout_is_clear(studio: StudioClient) -> None:
    studio.app_timeout = 0.0
    with pytest.raises(AppTimeout, match="was not running after"):
        studio.start_app(studio.resolve_space("d-emulator00002/editor"))
    studio.app_timeout = 30
    studio.stop_app(studio.resolve_space("d-emulator00002/editor"))


def test_bad_credentials_and_missing_region(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(CredentialsError, match="InvalidSignatureException"):
        StudioClient(make_session()).list_spaces()
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    with pytest.raises(ConfigurationError, match="no AWS region"):
        make_session(SessionSpec())
    with pytest.raises(ConfigurationError, match="profile 'missing'"):
        make_session(SessionSpec(profile="missing", region="us-east-1"))


def test_lifecycle_then_a_command_over_ssh_through_the_channel(
    studio: StudioClient, emulator: EmulatorThread
) -> None:
    """StartSession's InternalFailure window is retried; the channel reaches the space's sshd."""
    space = studio.start_app(studio.resolve_space("demo"))
    assert space.running

    async def fail_next_two() -> None:
        emulator.emulator.plane.faults.start_session_failures = 2

    emulator.call(fail_next_two)
    phases: list[str] = []
    grant = studio.start_session(space, progress=lambda phase, message: phases.append(message))
    assert any("InternalFailure" in m for m in phases)  # the real quirk, retried
    assert "TokenValue" not in repr(grant) and grant.token_value not in repr(grant)

    async def run() -> tuple[bytes, str]:
        channel = await open_channel(
            grant.stream_url,
            grant.token_value,
            resume=lambda: asyncio.to_thread(studio.resume_session, grant.session_id),
        )
        await channel.wait_ready()
        reader, _ = channel.streams()
        banner = await reader.readline()
        # A fresh channel for the SSH client (the banner was consumed above).
        await channel.close()
        second = studio.start_session(space)
        channel = await open_channel(second.stream_url, second.token_value)
        await channel.wait_ready()
        ssh = await connect_ssh(*channel.streams())
        result = await ssh.run("echo from-$SAGEMAKER_SPACE_NAME", check=True)
        ssh.close()
        await channel.close()
        return banner, str(result.stdout)

    banner, out = asyncio.run(run())
    assert banner == b"SSH-2.0-Go\r\n"
    assert out == "from-demo\n"

    stopped = studio.stop_app(space)
    assert stopped.app_status is None
    sm = boto3.Session(
        aws_access_key_id=emulator.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=emulator.env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    ).client("sagemaker", endpoint_url=emulator.endpoint_url)
    with pytest.raises(botocore.exceptions.ClientError) as stopped_error:
        sm.start_session(ResourceIdentifier=space.arn)
    assert stopped_error.value.response["Error"]["Code"] == "ValidationException"


def test_enable_remote_access_changes_the_space(studio: StudioClient) -> None:
    locked: Space = studio.resolve_space("locked")
    enabled = studio.enable_remote_access(locked, "ml.m5.xlarge")
    assert enabled.remote_access == "ENABLED"
    fresh = studio.resolve_space("locked")
    assert (fresh.remote_access, fresh.instance_type) == ("ENABLED", "ml.m5.xlarge")
