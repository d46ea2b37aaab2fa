"""A channel_closed that leaves a known gap reaches the reader as TruncatedError, never as EOF.

The agent here is the real ``AgentChannelCore`` behind a real websocket server; it loses one
of its output messages on the way out (deterministically: the broker's faults are random)
and then closes the channel, as an agent whose session ends before its output was acked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection, serve

from bridge.ssm.agent_core import AgentChannelCore
from bridge.ssm.codec import decode
from bridge.ssm.core import CoreConfig
from bridge.ssm.errors import ChannelClosedError, TruncatedError
from bridge.ssm.transport import open_channel

MESSAGES = 6
LOST_SEQ = 2  # the third message: three later ones arrive, so the client knows of the gap
GRACE = 0.3


@dataclass
class LossyAgent:
    """Serves one Standard_Stream session: MESSAGES of output with ``lost`` withheld, then
    channel_closed; ``hang_up`` closes the websocket right after it."""

    lost: int | None
    hang_up: bool

    async def handle(self, ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        core = AgentChannelCore(loop.time(), config=CoreConfig(rate_limit=None))
        core.accept_open(str(await ws.recv()))
        core.start_session(loop.time(), "Standard_Stream")
        core.send(bytes(1024 * MESSAGES), loop.time())
        for frame in core.frames_to_send(loop.time()):
            if decode(frame).sequence_number != self.lost:
                await ws.send(frame)
        await asyncio.sleep(0.05)  # the client has the rest (and acks it)
        core.close_channel(loop.time(), "agent gone", "sess-1")
        for frame in core.frames_to_send(loop.time()):
            await ws.send(frame)
        if self.hang_up:
            await ws.close()
        else:
            await ws.wait_closed()


async def _read_until_end(
    lost: int | None, hang_up: bool, grace: float = GRACE
) -> tuple[bytes, BaseException | None]:
    agent = LossyAgent(lost, hang_up)
    async with serve(agent.handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        channel = await open_channel(
            f"ws://127.0.0.1:{port}/session",
            "token",
            config=CoreConfig(rate_limit=None, close_grace=grace),
        )
        reader, _writer = channel.streams()
        received = bytearray()
        error: BaseException | None = None
        try:
            async with asyncio.timeout(10):
                while chunk := await reader.read(65536):
                    received += chunk
        except TruncatedError as exc:
            error = exc
        await asyncio.wait_for(channel.wait_closed(), 5)
        assert channel.service_reason == "agent gone"
        assert channel.error is error
        return bytes(received), error


async def test_a_gap_at_channel_closed_is_an_error_for_the_reader() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    received, error = await _read_until_end(LOST_SEQ, hang_up=False)
    assert isinstance(error, TruncatedError)
    assert not isinstance(error, ChannelClosedError)  # not to be taken for the clean end
    assert "missing" in str(error) and "agent gone" in str(error)
    assert loop.time() - started >= GRACE  # it waited for the gap to fill
    assert len(received) <= LOST_SEQ * 1024


async def test_a_hang_up_after_channel_closed_with_a_gap_fails_at_once() -> None:
    """No resume: the session is over. Not EOF, and not a ResumeFailed either."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    _received, error = await _read_until_end(LOST_SEQ, hang_up=True, grace=60.0)
    assert isinstance(error, TruncatedError)
    assert loop.time() - started < 10  # not the 60 s grace


async def test_without_a_gap_the_reader_gets_eof() -> None:
    received, error = await _read_until_end(None, hang_up=True)
    assert error is None
    assert received == bytes(1024 * MESSAGES)
