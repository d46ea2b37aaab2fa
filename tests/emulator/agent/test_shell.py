"""Standard_Stream: a shell on a pty, no handshake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from bridge.emulator.agent import SessionBroker, SessionTarget
from bridge.ssm.codec import PayloadType

from .agent_helpers import TestClient


async def test_shell_echo_resize_and_exit(
    broker: SessionBroker, clients: Callable[..., TestClient]
) -> None:
    grant = broker.create_session(
        SessionTarget(session_type="Standard_Stream", properties={}, shell_argv=["/bin/sh", "-i"])
    )
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    await client.send(json.dumps({"cols": 132, "rows": 40}).encode(), PayloadType.SIZE)
    await client.send(b"echo hi\r")
    await client.wait_for_data(lambda d: b"\r\nhi\r\n" in d)
    assert client.core.session_type == "Standard_Stream"
    await client.send(b"stty size\r")
    await client.wait_for_data(lambda d: b"40 132" in d)
    await client.send(b"sleep 30\r")
    await asyncio.sleep(0.2)
    await client.send(b"\x03")  # the pty turns ^C into SIGINT for the foreground job
    await client.send(b"echo back\r")
    await client.wait_for_data(lambda d: d.count(b"back\r\n") == 2, timeout=5)  # echo + output
    await client.send(b"exit\r")
    async with asyncio.timeout(5):
        await client.closed.wait()
    assert client.close_reason == ""


async def test_non_interactive_command_runs_after_handshake(
    broker: SessionBroker, clients: Callable[..., TestClient]
) -> None:
    grant = broker.create_session(
        SessionTarget(
            session_type="NonInteractiveCommands",
            properties={},
            shell_argv=["/bin/sh", "-c", "echo done"],
        )
    )
    client = clients(grant.stream_url)
    await client.connect(grant.token_value)
    async with asyncio.timeout(5):
        await client.closed.wait()
    assert client.core.session_type == "NonInteractiveCommands"
    assert client.data == b"done\r\n"
