"""Methods the in-process test server exposes, and process helpers for spawned daemons."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.daemon.dispatch import Api
from bridge.daemon.rpc import ApiError
from bridge.daemon.server import Connection
from bridge.daemon.stream import RawStream
from tests.support import wait_until

__all__ = ["wait_until"]  # the suite's one poller; test_lifecycle takes it from here

log = logging.getLogger("smconnect.daemon.test")


@dataclass
class EchoParams:
    text: str
    count: int = 1


@dataclass
class Steps:
    n: int


@dataclass
class Sleep:
    seconds: float


def install_test_methods(api: Api) -> None:
    @api.method("test.echo")
    async def echo(conn: Connection, params: EchoParams) -> dict[str, Any]:
        return {"text": params.text * params.count}

    @api.method("test.fail")
    async def fail(conn: Connection, params: dict[str, Any]) -> None:
        raise ApiError("space demo not found", kind="space_not_found", details={"space": "demo"})

    @api.method("test.crash")
    async def crash(conn: Connection, params: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    @api.method("test.bad_result")
    async def bad_result(conn: Connection, params: None) -> object:
        return object()

    @api.method("test.progress")
    async def progress(conn: Connection, params: Steps) -> dict[str, int]:
        for i in range(params.n):
            await conn.notify("progress", {"step": i})
        return {"done": params.n}

    @api.method("test.broadcast")
    async def broadcast(conn: Connection, params: dict[str, Any]) -> dict[str, int]:
        return {"sent": await conn.server.broadcast("session.state", params)}

    @api.method("test.sleep")
    async def sleep(conn: Connection, params: Sleep) -> dict[str, float]:
        await asyncio.sleep(params.seconds)
        return {"slept": params.seconds}

    @api.method("test.echo_stream")
    async def echo_stream(conn: Connection, params: None) -> dict[str, bool]:
        conn.spawn(_echo(conn.start_stream()))
        return {"ok": True}

    @api.method("test.stream_then_fail")
    async def stream_then_fail(conn: Connection, params: None) -> None:
        conn.start_stream()
        raise ApiError("target unreachable", kind="target_unreachable")

    @api.method("test.stream_error")
    async def stream_error(conn: Connection, params: None) -> dict[str, bool]:
        stream = conn.start_stream()

        async def fail_soon() -> None:
            await stream.write(b"partial")
            await stream.close(error="channel_closed")

        conn.spawn(fail_soon())
        return {"ok": True}

    @api.method("test.log")
    async def log_lines(conn: Connection, params: dict[str, Any]) -> None:
        for line in params["lines"]:
            log.info("%s", line)
        try:
            raise RuntimeError(params["lines"][0])
        except RuntimeError:
            log.exception("a failure whose message carries a secret")


async def _echo(stream: RawStream) -> None:
    while data := await stream.read():
        await stream.write(data)
    await stream.write_eof()
    await stream.close()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def daemon_pids(runtime_dir: Path) -> list[int]:
    """Live ``python -m bridge.daemon`` processes spawned for this test's runtime dir only."""
    marker = f"SMCONNECT_RUNTIME_DIR={runtime_dir}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if b"bridge.daemon" in cmdline and marker in environ and alive(int(entry)):
            found.append(int(entry))
    return found


def kill_daemons(runtime_dir: Path) -> None:
    for pid in daemon_pids(runtime_dir):
        os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda pid=pid: not alive(pid), 3.0):
            os.kill(pid, signal.SIGKILL)


async def running_space(
    emulator: Any, monkeypatch: Any, space_name: str = "editor"
) -> tuple[Any, Any]:
    """A workspace on the emulator (through its environment), and space ``space_name`` with its app
    up: by default the Code Editor space, whose app is up in milliseconds (the JupyterLab
    ``demo`` starts and stops a real Jupyter server, seconds each, that channel tests never
    use)."""
    from bridge.aws.context import AwsContext
    from bridge.daemon.workspace import Workspace

    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    ws = Workspace(AwsContext(), poll_interval=0.05)
    space = await ws.resolve(space_name)
    started = await ws.run(lambda studio: studio.start_app(space))
    return ws, await ws.resolve(started.ref)
