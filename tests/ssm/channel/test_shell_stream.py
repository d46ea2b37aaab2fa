"""A no-handshake session (Standard_Stream): ready on the first Output, bytes flow both ways.

Input waits for that first Output (as in the plugin), so the shell must speak first.
"""

from __future__ import annotations

import asyncio

from bridge.emulator.agent import SessionTarget
from bridge.ssm.transport import open_channel

from .channel_helpers import UNTHROTTLED, Harness


async def test_standard_stream_session_needs_no_handshake(harness: Harness) -> None:
    grant = harness.broker.create_session(
        SessionTarget(
            session_type="Standard_Stream", shell_argv=["/bin/sh", "-c", "echo ready; exec cat"]
        )
    )
    channel = await open_channel(grant.stream_url, grant.token_value, config=UNTHROTTLED)
    harness.channels.append(channel)
    reader, writer = channel.streams()
    writer.write(b"through the pty\n")
    ready = await asyncio.wait_for(channel.wait_ready(), 10)
    assert ready.session_type == "Standard_Stream"
    seen = b""
    async with asyncio.timeout(10):
        while b"through the pty" not in seen:
            seen += await reader.read(1024)
    await channel.close(terminate=True)
