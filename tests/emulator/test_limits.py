"""The per-space limit on concurrent sessions: ResourceLimitExceeded beyond it, and a session
counts until TerminateSession or until its connection to the space's SSH server closes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import LimitsConfig
from bridge.ssm.transport import open_channel

from .emulator_helpers import client, make_config, space_arn, start_app, wait_for


@pytest.fixture
def limited() -> Iterator[EmulatorThread]:
    with start_in_thread(make_config(limits=LimitsConfig(sessions_per_space=2))) as handle:
        yield handle


def _limit_error(sm: Any, space: str) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        sm.start_session(ResourceIdentifier=space_arn(space))
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_limit_answers_resource_limit_exceeded_until_a_session_is_terminated(
    limited: EmulatorThread,
) -> None:
    sm, ssm = client(limited, "sagemaker"), client(limited, "ssm")
    start_app(sm, "ce1")
    start_app(sm, "ce2")
    time.sleep(0.35)
    first = sm.start_session(ResourceIdentifier=space_arn("ce1"))
    sm.start_session(ResourceIdentifier=space_arn("ce1"))
    code, message, status = _limit_error(sm, "ce1")
    assert (code, status) == ("ResourceLimitExceeded", 400)
    assert "(2)" in message and "space 'ce1'" in message
    assert isinstance(sm.exceptions.ResourceLimitExceeded, type)  # botocore models this code
    sm.start_session(ResourceIdentifier=space_arn("ce2"))  # the limit is per space
    ssm.terminate_session(SessionId=first["SessionId"])
    assert sm.start_session(ResourceIdentifier=space_arn("ce1"))["TokenValue"]


def test_default_limit_is_ten(emu: EmulatorThread, sm: Any) -> None:
    start_app(sm, "ce1")
    time.sleep(0.35)
    for _ in range(10):
        sm.start_session(ResourceIdentifier=space_arn("ce1"))
    assert _limit_error(sm, "ce1")[0] == "ResourceLimitExceeded"


async def test_session_stops_counting_when_its_ssh_connection_closes(
    limited: EmulatorThread,
) -> None:
    sm = client(limited, "sagemaker")
    start_app(sm, "ce1")
    await asyncio.sleep(0.35)
    grant = sm.start_session(ResourceIdentifier=space_arn("ce1"))
    sm.start_session(ResourceIdentifier=space_arn("ce1"))
    channel = await open_channel(grant["StreamUrl"], grant["TokenValue"])
    try:
        await channel.wait_ready()
        reader, writer = channel.streams()
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"SSH-2.0-Go")
        writer.write(b"not an ssh client\r\n")  # the space's SSH server hangs up
        await writer.drain()
        await asyncio.wait_for(reader.read(), 10)
    finally:
        await channel.close()

    def ended() -> bool:
        return not limited.emulator.gateway.active(grant["SessionId"])

    await asyncio.to_thread(wait_for, ended, True)
    assert sm.start_session(ResourceIdentifier=space_arn("ce1"))["TokenValue"]


async def test_idle_session_is_terminated_and_cannot_resume() -> None:
    """20 emulated minutes of no traffic at 0.05 s a minute: one second."""
    cfg = make_config(minute_seconds=0.05)
    with start_in_thread(cfg) as emu:
        sm, ssm = client(emu, "sagemaker"), client(emu, "ssm")
        start_app(sm, "ce1")
        await asyncio.sleep(0.35)
        busy = sm.start_session(ResourceIdentifier=space_arn("ce1"))
        idle = sm.start_session(ResourceIdentifier=space_arn("ce1"))
        channel = await open_channel(idle["StreamUrl"], idle["TokenValue"])
        busy_channel = await open_channel(busy["StreamUrl"], busy["TokenValue"])
        try:
            await channel.wait_ready()
            await busy_channel.wait_ready()
            reader, _ = channel.streams()
            busy_reader, busy_writer = busy_channel.streams()
            await asyncio.wait_for(reader.readline(), 10)  # the banner is traffic, then silence
            await asyncio.wait_for(busy_reader.readline(), 10)
            started = time.monotonic()
            while time.monotonic() - started < 1.6:  # steady traffic keeps this one alive
                busy_writer.write(b"SSH-2.0-keep")  # no newline: the server keeps waiting
                await busy_writer.drain()
                await asyncio.sleep(0.1)
            assert not emu.emulator.gateway.active(idle["SessionId"])
            assert emu.emulator.gateway.active(busy["SessionId"])
            assert await asyncio.wait_for(reader.read(), 5) == b""
        finally:
            await channel.close()
            await busy_channel.close()
        assert "TokenValue" not in ssm.resume_session(SessionId=idle["SessionId"])
        session = emu.emulator.broker.sessions[idle["SessionId"]]
        assert session.close_reason == (
            "Your session timed out due to inactivity and has been terminated."
        )
