"""Fixtures: factories for loopback TCP pairs and SmuxSession pairs, closed at teardown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bridge.ssm.smux import SmuxSession

from .smux_helpers import Pair, SessionPair, TcpPair, _tcp_pair


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
