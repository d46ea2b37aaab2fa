"""asyncssh client connections over any asyncio byte-stream pair (e.g. an SSM data channel).

asyncssh can run over a "tunnel": an object whose ``create_connection`` hands it a transport.
``StreamTunnel`` provides one backed by a (StreamReader, StreamWriter) pair, so the daemon can
speak SSH to a space through a data channel without an extra socket or process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncssh

__all__ = ["CIPHERS", "SSH_USER", "StreamTunnel", "connect_ssh", "fetch_host_key"]

SSH_USER = "sagemaker-user"

# The daemon's own SSH runs inside an authenticated TLS websocket and an SSM session, so its
# cipher is a cost, not the protection: AES-GCM goes through AES-NI (``cryptography``), about
# 3x cheaper per byte than ChaCha20-Poly1305 (asyncssh's default first choice: the cipher and
# Poly1305 are separate passes there). OpenSSH's sshd and Go's x/crypto/ssh (SageMaker's
# server) offer aes128-gcm; the rest of the list is the fallback for a server that does not.
# Only connections the daemon opens use it; the ssh configs we write for OpenSSH are untouched.
CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)


class _StreamTransport(asyncio.Transport):
    """An asyncio transport that feeds a protocol from a StreamReader and writes to a StreamWriter."""

    def __init__(
        self, protocol: asyncio.Protocol, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__()
        self._protocol = protocol
        self._reader = reader
        self._writer = writer
        self._closing = False
        self._reading = asyncio.Event()
        self._reading.set()
        self._pump = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self) -> None:
        error: Exception | None = None
        try:
            while True:
                await self._reading.wait()
                data = await self._reader.read(65536)
                if not data:
                    break
                self._protocol.data_received(data)
        except asyncio.CancelledError:
            return
        except Exception as exc:  # the stream broke: report it to the protocol as a lost connection
            error = exc
        if not self._closing:
            self._closing = True
            with contextlib.suppress(Exception):
                self._writer.close()
        self._protocol.connection_lost(error)

    # -- transport API used by asyncssh
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closing:
            self._writer.write(bytes(data))

    def write_eof(self) -> None:
        if not self._closing and self._writer.can_write_eof():
            self._writer.write_eof()

    def can_write_eof(self) -> bool:
        return True

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._writer.close()
        # The read loop ends when the stream reaches EOF and reports connection_lost.
        asyncio.get_running_loop().call_later(5.0, self._pump.cancel)

    def abort(self) -> None:
        self._closing = True
        self._writer.close()
        self._pump.cancel()
        self._protocol.connection_lost(None)

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def is_reading(self) -> bool:
        return self._reading.is_set()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return ("smconnect-channel", 22)
        if name == "sockname":
            return ("127.0.0.1", 0)
        return self._writer.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self._writer.transport.get_write_buffer_size()


class StreamTunnel:
    """The asyncssh tunnel protocol over one stream pair: good for exactly one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._transport: _StreamTransport | None = None

    async def create_connection(
        self, session_factory: Callable[[], asyncio.Protocol], remote_host: str, remote_port: int
    ) -> tuple[asyncio.Transport, asyncio.Protocol]:
        if self._transport is not None:
            raise RuntimeError("a StreamTunnel carries a single connection")
        protocol = session_factory()
        self._transport = _StreamTransport(protocol, self._reader, self._writer)
        protocol.connection_made(self._transport)
        return self._transport, protocol

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def wait_closed(self) -> None:
        return None


async def connect_ssh(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    host_alias: str = "space",
    known_host_key: str | None = None,
    timeout: float = 30.0,
    keepalive_interval: float = 30.0,
) -> asyncssh.SSHClientConnection:
    """SSH into a space over a stream pair. SageMaker's server wants no key or password.

    With ``known_host_key`` (an OpenSSH public key line learnt over the trusted path), the
    server must present it; without, the key is accepted and can be read from the connection.
    """
    known_hosts: Any = None
    if known_host_key is not None:
        key = asyncssh.import_public_key(known_host_key)
        known_hosts = ([key], [], [])
    conn = await asyncssh.connect(
        host_alias,
        22,
        tunnel=StreamTunnel(reader, writer),
        username=SSH_USER,
        known_hosts=known_hosts,
        client_keys=None,
        agent_path=None,
        password=None,
        config=None,
        preferred_auth=["none", "keyboard-interactive", "password"],
        encryption_algs=list(CIPHERS),
        login_timeout=timeout,
        connect_timeout=timeout,
        keepalive_interval=keepalive_interval,
        keepalive_count_max=10,
    )
    return conn


async def fetch_host_key(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, timeout: float = 30.0
) -> str:
    """The server's host key as an OpenSSH public key line, read over the (trusted) channel."""
    conn = await connect_ssh(reader, writer, timeout=timeout)
    try:
        key = conn.get_server_host_key()
        if key is None:
            raise asyncssh.Error(
                asyncssh.DISC_HOST_KEY_NOT_VERIFIABLE, "the space sent no host key"
            )
        return str(key.export_public_key("openssh").decode().strip())
    finally:
        conn.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.wait_closed(), 5.0)
