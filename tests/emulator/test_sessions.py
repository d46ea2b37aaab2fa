"""StartSession (with its InternalFailure quirk and precondition errors), ResumeSession and
TerminateSession, and a real data channel through the StreamUrl to the space's SSH server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bridge.emulator import EmulatorThread
from bridge.ssm.transport import open_channel

from .emulator_helpers import DOMAIN, space_arn, start_app


def _error(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_start_session_preconditions(sm: Any) -> None:
    code, message, _ = _error(lambda: sm.start_session(ResourceIdentifier=space_arn("locked")))
    assert code == "ValidationException"
    assert message == (
        "Remote access is not enabled for space 'locked' in domain 'd-emulator00001'. Enable it "
        "with UpdateSpace (SpaceSettings.RemoteAccess=ENABLED), then restart the space's app."
    )
    code, message, _ = _error(lambda: sm.start_session(ResourceIdentifier=space_arn("editor")))
    assert code == "ValidationException"
    assert message == (
        "No app is InService for space 'editor' in domain 'd-emulator00001'. Start one with "
        "CreateApp and wait until its status is InService."
    )
    code, message, _ = _error(lambda: sm.start_session(ResourceIdentifier=space_arn("nope")))
    assert (code, message) == ("ResourceNotFound", f"Space '{space_arn('nope')}' does not exist.")
    other_account = space_arn("editor").replace("123456789012", "210987654321")
    assert (
        _error(lambda: sm.start_session(ResourceIdentifier=other_account))[0] == "ResourceNotFound"
    )
    code, message, _ = _error(lambda: sm.start_session(ResourceIdentifier="editor"))
    assert code == "ValidationException"
    assert message.startswith("Invalid ResourceIdentifier 'editor'")


def test_internal_failure_window_then_success(sm: Any) -> None:
    start_app(sm, "ce1")
    code, _, status = _error(lambda: sm.start_session(ResourceIdentifier=space_arn("ce1")))
    assert (code, status) == ("InternalFailure", 500)
    time.sleep(0.35)
    grant = sm.start_session(ResourceIdentifier=space_arn("ce1"))
    assert grant["SessionId"] and grant["TokenValue"]
    assert grant["StreamUrl"].startswith("ws://127.0.0.1:")


def test_start_session_failure_fault(emu: EmulatorThread, sm: Any) -> None:
    start_app(sm, "ce1")
    time.sleep(0.35)

    async def arm() -> None:
        emu.emulator.plane.faults.start_session_failures = 2

    emu.call(arm)
    assert (
        _error(lambda: sm.start_session(ResourceIdentifier=space_arn("ce1")))[0]
        == "InternalFailure"
    )
    assert (
        _error(lambda: sm.start_session(ResourceIdentifier=space_arn("ce1")))[0]
        == "InternalFailure"
    )
    assert sm.start_session(ResourceIdentifier=space_arn("ce1"))["TokenValue"]


def test_resume_and_terminate(sm: Any, ssm: Any) -> None:
    start_app(sm, "ce1")
    time.sleep(0.35)
    grant = sm.start_session(ResourceIdentifier=space_arn("ce1"))
    resumed = ssm.resume_session(SessionId=grant["SessionId"])
    assert resumed["SessionId"] == grant["SessionId"]
    assert resumed["TokenValue"] and resumed["TokenValue"] != grant["TokenValue"]
    assert resumed["StreamUrl"] == grant["StreamUrl"]
    assert ssm.terminate_session(SessionId=grant["SessionId"])["SessionId"] == grant["SessionId"]
    # Idempotent, and an ended session resumes without a token (the plugin's "timed out").
    assert ssm.terminate_session(SessionId=grant["SessionId"])["SessionId"] == grant["SessionId"]
    assert "TokenValue" not in ssm.resume_session(SessionId=grant["SessionId"])


def test_unknown_session_ids(ssm: Any) -> None:
    code, message, status = _error(lambda: ssm.resume_session(SessionId="user-0123456789abcdef0"))
    assert (code, status) == ("DoesNotExistException", 400)
    assert message == "Session with id user-0123456789abcdef0 does not exist."
    assert _error(lambda: ssm.terminate_session(SessionId="user-0123456789abcdef0"))[0] == (
        "DoesNotExistException"
    )


async def test_stream_url_reaches_the_spaces_ssh_server(emu: EmulatorThread, sm: Any) -> None:
    """The default wiring end to end: StartSession's triple opens a data channel (real broker)
    to the SSH server of the JupyterLab runtime that CreateApp started."""
    start_app(sm, "demo", app_type="JupyterLab")
    await asyncio.sleep(0.35)
    grant = sm.start_session(ResourceIdentifier=space_arn("demo"))
    channel = await open_channel(grant["StreamUrl"], grant["TokenValue"])
    try:
        await channel.wait_ready()
        reader, _ = channel.streams()
        banner = await asyncio.wait_for(reader.readline(), 10)
        assert banner.startswith(b"SSH-2.0-Go")
    finally:
        await channel.close()
    sm.delete_app(DomainId=DOMAIN, SpaceName="demo", AppType="JupyterLab", AppName="default")
