"""The real SessionBroker on loopback, targets in the "space", and a channel opener.

Bulk targets hash what they receive and send an independent seeded stream, each direction in
its own task, so neither direction can stall the other through the target (an echo target would
couple them: the agent stops reading the websocket while the echo's writes back up).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bridge.emulator.agent import Address, SessionBroker, SessionGrant, SessionTarget
from bridge.ssm.core import CoreConfig
from bridge.ssm.transport import DataChannel, ReconnectEvent, RetryPolicy, open_channel

CHUNK = 65536
UNTHROTTLED = CoreConfig(rate_limit=None)
FAST_RETRY = RetryPolicy(initial_min=0.01, initial_max=0.02, max_delay=0.2, max_attempts=6)


def seeded_chunks(seed: int, size: int) -> list[int]:
    """Chunk sizes of a seeded stream (the bytes come from ``random.Random(seed).randbytes``)."""
    return [min(CHUNK, size - at) for at in range(0, size, CHUNK)]


def seeded_digest(seed: int, size: int) -> str:
    rng = random.Random(seed)
    digest = hashlib.sha256()
    for n in seeded_chunks(seed, size):
        digest.update(rng.randbytes(n))
    return digest.hexdigest()


async def write_seeded(writer: asyncio.StreamWriter, seed: int, size: int) -> str:
    rng = random.Random(seed)
    digest = hashlib.sha256()
    for n in seeded_chunks(seed, size):
        chunk = rng.randbytes(n)
        digest.update(chunk)
        writer.write(chunk)
        await writer.drain()
    return digest.hexdigest()


async def read_all(reader: asyncio.StreamReader, limit: int | None = None) -> tuple[str, int]:
    """sha256 and length of everything up to EOF (or ``limit`` bytes)."""
    digest = hashlib.sha256()
    total = 0
    while limit is None or total < limit:
        data = await reader.read(CHUNK if limit is None else min(CHUNK, limit - total))
        if not data:
            break
        digest.update(data)
        total += len(data)
    return digest.hexdigest(), total


@dataclass
class BulkTarget:
    """Sends ``download`` seeded bytes while hashing ``upload`` bytes (or up to EOF), then
    hangs up, which (sshd semantics) ends a stdio session with channel_closed."""

    download: int = 0
    upload: int | None = None
    seed: int = 7
    received: asyncio.Queue[tuple[str, int]] = field(default_factory=asyncio.Queue)
    connections: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            sender = asyncio.create_task(write_seeded(writer, self.seed, self.download))
            result = await read_all(reader, self.upload)
            with contextlib.suppress(ConnectionError):
                await sender
            await self.received.put(result)
        finally:
            writer.close()


@dataclass
class EchoTarget:
    """Echoes each connection until EOF, then closes (small payloads only: see module doc)."""

    connections: int = 0
    eofs: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
            self.eofs += 1
        except ConnectionError:
            pass
        finally:
            writer.close()


class Space:
    """Unix-socket servers standing in for a space's ports, and the resolve() that finds them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports: dict[int, str] = {}
        self._servers: list[asyncio.Server] = []

    async def listen(self, port: int, handler: Callable[..., Awaitable[None]]) -> None:
        path = str(self.root / f"port-{port}.sock")
        self._servers.append(await asyncio.start_unix_server(handler, path))
        self.ports[port] = path

    def resolve(self, host: str, port: int) -> Address:
        try:
            return self.ports[port]
        except KeyError:
            raise ConnectionRefusedError(f"nothing listens on {host}:{port}") from None

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)


class Harness:
    """One broker and one space; ``open()`` starts a session and dials it with the transport."""

    def __init__(self, broker: SessionBroker, space: Space) -> None:
        self.broker = broker
        self.space = space
        self.channels: list[DataChannel] = []
        self.reconnect_events: list[ReconnectEvent] = []

    def grant(self, properties: dict[str, str] | None = None) -> SessionGrant:
        target = SessionTarget(
            session_type="Port",
            properties=properties or {"portNumber": "22"},
            resolve=self.space.resolve,
        )
        return self.broker.create_session(target)

    async def open(
        self,
        properties: dict[str, str] | None = None,
        *,
        can_resume: bool = True,
        **kwargs: Any,
    ) -> tuple[DataChannel, SessionGrant]:
        grant = self.grant(properties)

        async def resume() -> str:
            return self.broker.resume_session(grant.session_id)

        kwargs.setdefault("config", UNTHROTTLED)
        kwargs.setdefault("retry", FAST_RETRY)
        channel = await open_channel(
            grant.stream_url,
            grant.token_value,
            resume=resume if can_resume else None,
            on_reconnect=self.reconnect_events.append,
            **kwargs,
        )
        self.channels.append(channel)
        return channel, grant

    async def close(self) -> None:
        for channel in self.channels:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.close(timeout=2), 5)


def count_calls(
    monkeypatch: pytest.MonkeyPatch, owner: type, name: str
) -> collections.Counter[str]:
    """Count the calls of ``owner.name`` (each still made) under the key ``name``."""
    calls: collections.Counter[str] = collections.Counter()
    original = getattr(owner, name)

    @functools.wraps(original)
    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls
