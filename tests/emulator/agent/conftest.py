"""Fixtures: the real SessionBroker, factories of test clients, and echo targets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bridge.emulator.agent import SessionBroker

from .agent_helpers import TestClient


@pytest.fixture
async def broker() -> AsyncIterator[SessionBroker]:
    b = SessionBroker(pacing="unthrottled", handshake_timeout=5.0)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., TestClient]]:
    made: list[TestClient] = []

    def make(url: str, **kwargs: object) -> TestClient:
        client = TestClient(url, **kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def tcp_echo() -> AsyncIterator[tuple[str, int]]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[:2]
    server.close()


@pytest.fixture
async def unix_echo(tmp_path: Path) -> AsyncIterator[str]:
    path = str(tmp_path / "echo.sock")
    server = await asyncio.start_unix_server(_echo, path)
    yield path
    server.close()
