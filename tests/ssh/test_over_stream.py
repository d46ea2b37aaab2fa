"""The daemon's own SSH connections (``connect_ssh`` over a stream pair) negotiate the cipher
we prefer (AES-GCM: AES-NI, the cheapest per byte) with the emulator's space server, and still
connect to a server that offers only ChaCha20-Poly1305."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import asyncssh

from bridge.emulator.runtime.ssh_server import SSHServer
from bridge.ssh.over_stream import CIPHERS, connect_ssh


def _refuse_forwarding(host: str, port: int) -> str:
    raise ConnectionRefusedError(host)


async def _ciphers_and_echo(socket_path: Path) -> tuple[str, str, str]:
    reader, writer = await asyncio.open_unix_connection(os.fspath(socket_path))
    conn = await connect_ssh(reader, writer, timeout=10)
    try:
        done = await conn.run("echo over-the-stream", check=True)
        return (
            str(conn.get_extra_info("send_cipher")),
            str(conn.get_extra_info("recv_cipher")),
            str(done.stdout),
        )
    finally:
        conn.close()
        await conn.wait_closed()


def test_the_emulators_space_server_negotiates_aes_gcm(tmp_path: Path) -> None:
    async def main() -> tuple[str, str, str]:
        server = SSHServer(
            socket_path=tmp_path / "ssh.sock",
            home=tmp_path,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
            resolve=_refuse_forwarding,
            children=set(),
        )
        await server.start(asyncssh.generate_private_key("ssh-ed25519"))
        try:
            return await _ciphers_and_echo(tmp_path / "ssh.sock")
        finally:
            await server.stop()

    send, recv, out = asyncio.run(main())
    assert CIPHERS[0] == "aes128-gcm@openssh.com"
    assert (send, recv) == (CIPHERS[0], CIPHERS[0])
    assert out == "over-the-stream\n"


class _NoAuth(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return False


def _echo(process: asyncssh.SSHServerProcess[str]) -> None:
    process.stdout.write("over-the-stream\n")
    process.exit(0)


def test_a_server_without_aes_gcm_gets_chacha20(tmp_path: Path) -> None:
    """A server offering only ChaCha20-Poly1305 (older Go servers order it first, some offer
    no GCM) still connects: the preference list keeps it as the fallback."""

    async def main() -> tuple[str, str, str]:
        path = tmp_path / "chacha.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(os.fspath(path))
        sock.listen(1)
        sock.setblocking(False)
        acceptor = await asyncssh.listen(
            sock=sock,
            server_factory=_NoAuth,
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            encryption_algs=["chacha20-poly1305@openssh.com"],
            process_factory=_echo,
        )
        try:
            return await _ciphers_and_echo(path)
        finally:
            acceptor.close()
            await acceptor.wait_closed()

    send, recv, out = asyncio.run(main())
    assert (send, recv) == ("chacha20-poly1305@openssh.com",) * 2
    assert out == "over-the-stream\n"
