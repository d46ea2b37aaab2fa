"""The JupyterLab space's Jupyter server: reachable through SSH forwarding, not over TCP."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import aiohttp
import psutil
import pytest

from bridge.emulator.runtime import JupyterStartError, SpaceRuntime
from bridge.emulator.runtime.jupyter import JupyterServer

from .runtime_helpers import ssh_connect

pytestmark = pytest.mark.asyncio(loop_scope="module")

XSRF = "0123456789abcdef"


async def _http_over_ssh(runtime: SpaceRuntime, path: str) -> tuple[bytes, bytes]:
    async with await ssh_connect(runtime) as conn:
        reader, writer = await conn.open_connection("127.0.0.1", 8888, encoding=None)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8888\r\nConnection: close\r\n\r\n".encode()
        )
        response = await asyncio.wait_for(reader.read(), 10)
    head, _, body = response.partition(b"\r\n\r\n")
    return head, body


async def test_kernelspecs_through_direct_tcpip(jupyterlab: SpaceRuntime) -> None:
    head, body = await _http_over_ssh(jupyterlab, "/jupyterlab/default/api/kernelspecs")
    assert head.startswith(b"HTTP/1.1 200")
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    specs = json.loads(body)
    assert "python3" in specs["kernelspecs"]


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2 :]
    return out


async def test_nothing_takes_a_tcp_port(jupyterlab: SpaceRuntime) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", 8888), timeout=2).close()
    jupyter_dir = Path(jupyterlab.resolve("localhost", 8888)).parent
    assert (jupyter_dir.stat().st_mode & 0o777) == 0o700
    server = _jupyter_process(jupyterlab)
    assert [c for c in server.net_connections("inet") if c.status == psutil.CONN_LISTEN] == []
    assert [c for c in server.net_connections("unix") if c.laddr] != []


async def test_kernel_starts_with_ipc_transport(jupyterlab: SpaceRuntime) -> None:
    """POST needs the double-submitted XSRF value, as in a real space (token '' keeps XSRF on)."""
    path = jupyterlab.resolve("localhost", 8888)
    assert isinstance(path, str)
    connector = aiohttp.UnixConnector(path=path)
    async with aiohttp.ClientSession(connector=connector) as http:
        url = "http://localhost:8888/jupyterlab/default/api/kernels"
        async with http.post(url, json={"name": "python3"}) as refused:
            assert refused.status == 403
        headers = {"X-XSRFToken": XSRF, "Cookie": f"_xsrf={XSRF}"}
        async with http.post(url, json={"name": "python3"}, headers=headers) as response:
            assert response.status == 201
            kernel = await response.json()
        runtime_dir = Path(path).parent / "jupyter-runtime"
        connection = json.loads((runtime_dir / f"kernel-{kernel['id']}.json").read_text())
        assert connection["transport"] == "ipc"
        async with http.delete(f"{url}/{kernel['id']}", headers=headers) as deleted:
            assert deleted.status == 204


async def test_start_failure_reports_the_log_tail(tmp_path: Path) -> None:
    server = JupyterServer(
        socket_path=tmp_path / "missing-dir" / "j.sock",
        kernel_ipc_prefix=tmp_path / "k",
        runtime_dir=tmp_path,
        log_path=tmp_path / "jupyter.log",
        home=tmp_path,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        startup_timeout=15,  # jupyter-server alone takes a few seconds to import and log
    )
    with pytest.raises(JupyterStartError) as failure:
        await server.start()
    # jupyter-server logs the bind error but keeps running, so this is the timeout path.
    assert "did not answer /jupyterlab/default/api/status within 15 s" in str(failure.value)
    assert "sock.bind" in str(failure.value)
    assert server.pid is None


def _jupyter_process(runtime: SpaceRuntime) -> psutil.Process:
    for proc in psutil.Process().children(recursive=True):
        if "jupyter_server" in proc.cmdline() and any(
            str(runtime.root) in a for a in proc.cmdline()
        ):
            return proc
    raise AssertionError("no Jupyter server process")


async def test_last_activity_from_kernels_and_the_heartbeat_file(jupyterlab: SpaceRuntime) -> None:
    """What idle shutdown reads: Jupyter's kernel activity and ``$TMPDIR``'s heartbeat file."""
    import datetime as dt
    import time

    from bridge.emulator.runtime.activity import HEARTBEAT_NAME

    path = jupyterlab.resolve("localhost", 8888)
    assert isinstance(path, str)
    headers = {"X-XSRFToken": XSRF, "Cookie": f"_xsrf={XSRF}"}
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=path)) as http:
        url = "http://localhost:8888/jupyterlab/default/api/kernels"
        async with http.post(url, json={"name": "python3"}, headers=headers) as response:
            kernel = await response.json()
        try:
            seen = await jupyterlab.last_activity()
            assert seen is not None and abs(seen - time.time()) < 60
        finally:
            async with http.delete(f"{url}/{kernel['id']}", headers=headers):
                pass
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    stamp = future.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    (jupyterlab.tmp_dir / HEARTBEAT_NAME).write_text(stamp)
    assert await jupyterlab.last_activity() == pytest.approx(future.timestamp(), abs=0.01)
