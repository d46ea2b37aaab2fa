"""Autostart, one daemon per user, idle exit, stale sockets, shutdown: real spawned daemons."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import sys
from pathlib import Path

import pytest

from bridge.daemon.client import DaemonClient, DaemonUnavailable
from bridge.daemon.server import DaemonServer
from bridge.paths import DaemonPaths, ensure_private_dir

from .daemon_helpers import alive, daemon_pids, wait_until

SOURCE_ROOT = str(Path(__file__).resolve().parents[2])


async def status_of(paths: DaemonPaths) -> dict[str, object]:
    async with DaemonClient.connect(paths=paths, start_timeout=20) as c:
        return dict(await c.call("daemon.status", timeout=10))


async def test_autostart_spawns_one_daemon(daemon_paths: DaemonPaths) -> None:
    status = await status_of(daemon_paths)
    pid = status["pid"]
    assert isinstance(pid, int) and pid != os.getpid() and alive(pid)
    assert status["endpoint"] == str(daemon_paths.socket)
    assert daemon_paths.lock.read_text().strip() == str(pid)
    assert stat.S_IMODE(os.stat(daemon_paths.lock).st_mode) == 0o600
    # Already running: the next client connects without spawning anything.
    assert (await status_of(daemon_paths))["pid"] == pid
    assert daemon_pids(daemon_paths.runtime_dir) == [pid]


async def test_concurrent_autostarts_converge_on_one_daemon(daemon_paths: DaemonPaths) -> None:
    statuses = await asyncio.gather(*(status_of(daemon_paths) for _ in range(3)))
    pids = {s["pid"] for s in statuses}
    assert len(pids) == 1
    # The losers of the lock race exited 0 on their own.
    assert wait_until(lambda: daemon_pids(daemon_paths.runtime_dir) == list(pids), 5)


async def test_idle_daemon_exits_and_cleans_up(
    daemon_paths: DaemonPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMCONNECT_DAEMON_IDLE_TIMEOUT", "1")
    async with DaemonClient.connect(paths=daemon_paths) as c:
        pid = (await c.call("daemon.status"))["pid"]
        await asyncio.sleep(1.5)  # a connected client keeps it alive past the idle time
        assert alive(pid)
    assert await asyncio.to_thread(wait_until, lambda: not alive(pid), 5)
    assert not daemon_paths.socket.exists()
    assert "daemon exiting: idle for 1s" in daemon_paths.log.read_text()
    # The next client simply starts a new one.
    assert (await status_of(daemon_paths))["pid"] != pid


async def test_shutdown_method(daemon_paths: DaemonPaths) -> None:
    async with DaemonClient.connect(paths=daemon_paths) as c:
        pid = (await c.call("daemon.status"))["pid"]
        assert await c.call("daemon.shutdown") == {"ok": True}
    assert await asyncio.to_thread(wait_until, lambda: not alive(pid), 5)
    assert not daemon_paths.socket.exists()


async def test_stale_socket_is_replaced(daemon_paths: DaemonPaths) -> None:
    ensure_private_dir(daemon_paths.runtime_dir)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(daemon_paths.socket))  # bound, never listening, then closed: a crash's leftover
    dead.close()
    status = await status_of(daemon_paths)
    assert alive(int(str(status["pid"])))
    assert "removed a stale daemon.sock" in daemon_paths.log.read_text()


async def test_tcp_fallback_autostart(
    daemon_paths: DaemonPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMCONNECT_DAEMON_TRANSPORT", "tcp")
    status = await status_of(daemon_paths)
    assert status["transport"] == "tcp"
    endpoint = json.loads(daemon_paths.tcp_endpoint.read_text())
    assert status["endpoint"] == f"127.0.0.1:{endpoint['port']}"
    assert stat.S_IMODE(os.stat(daemon_paths.tcp_endpoint).st_mode) == 0o600
    assert not daemon_paths.socket.exists()


async def test_start_failure_reports_the_daemons_last_words(
    daemon_paths: DaemonPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = daemon_paths.runtime_dir.parent / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("SMCONNECT_RUNTIME_DIR", str(blocker / "run"))
    broken = DaemonPaths(runtime_dir=blocker / "run", state_dir=daemon_paths.state_dir)
    with pytest.raises(DaemonUnavailable) as err:
        await DaemonClient.open(paths=broken, start_timeout=20)
    assert str(err.value).startswith("the smconnect daemon did not start: smconnect daemon:")
    assert "Not a directory" in str(err.value)


async def test_busy_hook_holds_off_idle_exit(daemon_paths: DaemonPaths) -> None:
    from bridge.daemon.dispatch import Api

    server = DaemonServer(Api())
    busy = True
    server.busy = lambda: busy
    await asyncio.sleep(0.05)
    assert server.idle_for() == 0.0
    busy = False
    first = server.idle_for()
    await asyncio.sleep(0.05)
    assert server.idle_for() > first


def test_lock_is_exclusive(tmp_path: Path) -> None:
    from bridge.daemon.lifecycle import acquire_lock

    fd = acquire_lock(tmp_path / "daemon.lock")
    assert fd is not None
    try:
        assert acquire_lock(tmp_path / "daemon.lock") is None
    finally:
        os.close(fd)
    again = acquire_lock(tmp_path / "daemon.lock")
    assert again is not None
    os.close(again)


async def test_shutdown_callbacks_run_before_connections_close(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    ran: list[str] = []
    c = await DaemonClient.open(autostart=False, paths=daemon_paths)

    async def first() -> None:
        ran.append(f"first, client connected: {not c.closed}")

    async def broken() -> None:
        raise RuntimeError("cleanup failed")

    async def last() -> None:
        ran.append("last")

    served.on_shutdown(first)
    served.on_shutdown(broken)
    served.on_shutdown(last)
    await served.close()
    assert ran == ["last", "first, client connected: True"]
    await c.close()


async def test_a_second_daemon_exits_quietly(daemon_paths: DaemonPaths) -> None:
    first = (await status_of(daemon_paths))["pid"]
    second = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge.daemon",
        cwd="/",
        env={**os.environ, "PYTHONPATH": SOURCE_ROOT},
    )
    assert await asyncio.wait_for(second.wait(), 30) == 0
    assert (await status_of(daemon_paths))["pid"] == first
    assert daemon_paths.lock.read_text().strip() == str(first)


def test_argv_carries_nothing_but_the_module(daemon_paths: DaemonPaths) -> None:
    pid = asyncio.run(status_of(daemon_paths))["pid"]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().rstrip(b"\0").split(b"\0")
    assert argv[1:] == [b"-m", b"bridge.daemon"]
