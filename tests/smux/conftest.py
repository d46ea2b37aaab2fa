"""Loopback TCP connections for smux tests: real sockets on 127.0.0.1, no mocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bridge.ssm.smux import SmuxSession

Pair = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _tcp_pair() -> tuple[Pair, Pair]:
    """Both ends of one loopback TCP connection."""
    accepted: asyncio.Future[Pair] = asyncio.get_running_loop().create_future()

    async def on_accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result((reader, writer))

    server = await asyncio.start_server(on_accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = await asyncio.open_connection("127.0.0.1", port)
    peer = await accepted
    server.close()
    await server.wait_closed()
    return client, peer


TcpPair = Callable[[], Awaitable[tuple[Pair, Pair]]]
SessionPair = Callable[..., Awaitable[tuple[SmuxSession, SmuxSession]]]


@pytest.fixture
async def tcp_pair() -> AsyncIterator[TcpPair]:
    """Factory for loopback TCP connections; every writer is closed at teardown."""
    writers: list[asyncio.StreamWriter] = []

    async def make() -> tuple[Pair, Pair]:
        a, b = await _tcp_pair()
        writers.extend((a[1], b[1]))
        return a, b

    yield make
    for writer in writers:
        writer.close()


@pytest.fixture
async def session_pair() -> AsyncIterator[SessionPair]:
    """Factory for a client and a server SmuxSession over loopback TCP; closed at teardown."""
    sessions: list[SmuxSession] = []

    async def make(**kwargs: object) -> tuple[SmuxSession, SmuxSession]:
        (cr, cw), (sr, sw) = await _tcp_pair()
        client = SmuxSession.over_streams(cr, cw, client=True, **kwargs)  # type: ignore[arg-type]
        server = SmuxSession.over_streams(sr, sw, client=False, **kwargs)  # type: ignore[arg-type]
        sessions.extend((client, server))
        return client, server

    yield make
    for session in sessions:
        await session.close()
