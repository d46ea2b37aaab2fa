"""Test helpers for the space runtime (a module, not the conftest, so tests can import it)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import asyncssh

from bridge.emulator.runtime import SpaceRuntime


async def ssh_connect(
    runtime: SpaceRuntime, username: str = "anyone", **options: Any
) -> asyncssh.SSHClientConnection:
    """Connect the way the agent does: to the unix socket that port 22 resolves to."""
    path = runtime.resolve("localhost", 22)
    assert isinstance(path, str)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return await asyncssh.connect(
        sock=sock, username=username, known_hosts=None, agent_path=None, **options
    )


@contextlib.asynccontextmanager
async def started(runtime: SpaceRuntime) -> AsyncIterator[SpaceRuntime]:
    """``runtime``, started for the block and stopped after it."""
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()
