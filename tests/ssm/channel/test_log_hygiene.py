"""No token and no StreamUrl query in any log line, client or emulator, even at DEBUG."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest

from .channel_helpers import EchoTarget, Harness


async def test_debug_logs_of_both_sides_hold_no_secret(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    target = EchoTarget()
    await harness.space.listen(22, target.handle)
    channel, grant = await harness.open()
    await channel.wait_ready()
    reader, writer = channel.streams()
    writer.write(b"ping")
    assert await reader.readexactly(4) == b"ping"
    harness.broker.faults.drop_every_bytes = 1  # force a resume: a second token on the wire
    writer.write(b"pong")
    assert await reader.readexactly(4) == b"pong"
    harness.broker.faults.drop_every_bytes = None
    await channel.close()
    text = caplog.text
    assert "websocket" in text.lower()  # debug logging really was on
    assert grant.token_value not in text
    assert urlsplit(grant.stream_url).query not in text
