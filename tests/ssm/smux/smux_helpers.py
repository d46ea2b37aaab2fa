"""Loopback TCP connections for smux tests: real sockets on 127.0.0.1, no mocks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

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
