"""The emulator runtime's share of the kernels work: other loopback ports and the PATH knob."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import asyncssh
import pytest

from bridge.emulator.runtime import SpaceRuntime
from bridge.emulator.runtime.space import SPACE_PATH_ENV


async def test_other_loopback_ports_reach_the_hosts_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SPACE_PATH_ENV, "/usr/bin:/bin")
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.set_result(await reader.readexactly(7))
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    runtime = SpaceRuntime(space_name="ports", app_type="CodeEditor", root=tmp_path)
    await runtime.start()
    try:
        assert runtime.resolve("localhost", port) == ("127.0.0.1", port)
        with pytest.raises(ConnectionRefusedError):
            runtime.resolve("localhost", 8888)  # no Jupyter in a CodeEditor space
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(runtime.ssh_socket))
        async with asyncssh.connect(
            sock=sock, username="sagemaker-user", known_hosts=None, agent_path=None
        ) as conn:
            done = await conn.run("echo $PATH", check=True)
            assert done.stdout == "/usr/bin:/bin\n"
            _, writer = await conn.open_connection("127.0.0.1", port)
            writer.write(b"through")
            assert await asyncio.wait_for(received, 10) == b"through"
    finally:
        server.close()
        await runtime.stop()
