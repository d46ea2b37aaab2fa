"""Start, stop and restart: host keys, refused ports, no processes left behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import asyncssh
import psutil
import pytest

from bridge.emulator.runtime import SpaceRuntime

from .runtime_helpers import ssh_connect


def _alive(pids: set[int]) -> set[int]:
    return {p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"}


async def test_code_editor_restart_new_key_no_jupyter(tmp_path: Path) -> None:
    runtime = SpaceRuntime(space_name="demo-ce", app_type="CodeEditor", root=tmp_path)
    assert runtime.jupyter_enabled is False
    await runtime.start()
    try:
        first = runtime.host_key_fingerprint
        assert first.startswith("SHA256:")
        with pytest.raises(ConnectionRefusedError):
            runtime.resolve("localhost", 8888)
        async with await ssh_connect(runtime) as conn:
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.open_connection("localhost", 8888)
        await runtime.stop()
        await runtime.stop()  # idempotent
        with pytest.raises(ConnectionRefusedError):
            runtime.resolve("localhost", 22)
        await runtime.start()
        assert runtime.host_key_fingerprint != first
        async with await ssh_connect(runtime) as conn:
            assert conn.get_server_host_key().get_fingerprint("sha256") != first
    finally:
        await runtime.stop()


async def test_stop_leaves_no_processes(tmp_path: Path) -> None:
    runtime = SpaceRuntime(space_name="demo-stop", app_type="JupyterLab", root=tmp_path)
    others = {p.pid for p in psutil.Process().children(recursive=True)}  # not the runtime's
    await runtime.start()
    try:
        conn = await ssh_connect(runtime)
        # A running command, an interactive shell, and a job detached into its own session.
        busy = await conn.create_process("sleep 300")
        shell = await conn.create_process(term_type="xterm")
        shell.stdin.write("sleep 301 &\necho ready\n")
        await asyncio.wait_for(shell.stdout.readuntil("ready\r\n"), 10)
        await conn.run(
            "setsid sh -c 'echo $$ > detached.pid; exec sleep 302' < /dev/null > /dev/null 2>&1 &",
            check=True,
        )
        for _ in range(100):
            if (runtime.home / "detached.pid").exists():
                break
            await asyncio.sleep(0.05)
        detached = int((runtime.home / "detached.pid").read_text())
        path = runtime.resolve("localhost", 8888)
        assert isinstance(path, str)
        headers = {"X-XSRFToken": "ab12", "Cookie": "_xsrf=ab12"}
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=path)) as http:
            url = "http://localhost/jupyterlab/default/api/kernels"
            async with http.post(url, json={"name": "python3"}, headers=headers) as response:
                assert response.status == 201
        started = {p.pid for p in psutil.Process().children(recursive=True)} - others
        started.add(detached)
        names = " ".join(" ".join(psutil.Process(p).cmdline()) for p in _alive(started))
        for expected in ("sleep 300", "sleep 301", "sleep 302", "jupyter_server", "ipykernel"):
            assert expected in names
    finally:
        await runtime.stop()
    await asyncio.sleep(0.2)  # let the event loop reap
    assert _alive(started) == set(), [psutil.Process(p).cmdline() for p in _alive(started)]
    del busy, shell
