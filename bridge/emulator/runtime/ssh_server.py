"""The space's SSH server: what SageMaker runs behind the SSM session, listening on a unix socket.

Like the real one (a Go server) it says ``SSH-2.0-Go``, takes any user with no key or password
(the SSM session is the authentication) and logs in ``sagemaker-user``. asyncssh puts
``SSH-2.0-`` in front of ``server_version`` itself, so ``server_version="Go"`` gives the exact
banner; nothing private is patched.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping, MutableSet
from pathlib import Path
from typing import cast

import asyncssh

from bridge.emulator.runtime.address import Address, is_loopback
from bridge.emulator.runtime.sessions import SessionRunner
from bridge.emulator.runtime.sftp import HomeSFTPServer
from bridge.emulator.runtime.space_user import SpaceUser

log = logging.getLogger(__name__)

SERVER_VERSION = "Go"

Resolver = Callable[[str, int], Address]


class _SpaceServer(asyncssh.SSHServer):
    """Per-connection policy: no authentication, forwarding through the runtime's resolver."""

    def __init__(self, resolve: Resolver, connections: set[asyncssh.SSHServerConnection]) -> None:
        self._resolve = resolve
        self._connections = connections
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return False  # no authentication: whoever reached this socket came through the agent

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool | Awaitable[asyncssh.SSHTCPSession[bytes]]:
        """direct-tcpip: the space's own ports go through ``resolve``; other hosts are real TCP."""
        if not is_loopback(dest_host):
            return True
        assert self._conn is not None
        try:
            address = self._resolve(dest_host, dest_port)
        except ConnectionRefusedError:
            return False
        # asyncssh's forwarders are the sessions it expects here (it casts them itself).
        if isinstance(address, str):
            forwarder = self._conn.forward_unix_connection(address)
        else:
            forwarder = self._conn.forward_connection(*address)
        return cast(Awaitable[asyncssh.SSHTCPSession[bytes]], forwarder)

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        # Remote forwarding would open a TCP listener on the emulator's host, reachable around
        # the tunnel; refuse it (the space's real server would listen inside the space).
        return False


class SSHServer:
    """Listens on ``socket_path`` with ``host_key`` until ``stop()``."""

    def __init__(
        self,
        *,
        socket_path: Path,
        home: Path,
        env: Mapping[str, str],
        resolve: Resolver,
        children: MutableSet[int],
        user: SpaceUser | None = None,
    ) -> None:
        self._socket_path = socket_path
        self._home = home
        self._env = dict(env)
        self._resolve = resolve
        self._children = children
        self._user = user
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()

    async def start(self, host_key: asyncssh.SSHKey) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(self._socket_path))
            os.chmod(self._socket_path, 0o600)
            sock.listen(100)
            sock.setblocking(False)
            self._acceptor = await asyncssh.listen(
                sock=sock,
                server_factory=functools.partial(_SpaceServer, self._resolve, self._connections),
                server_host_keys=[host_key],
                server_version=SERVER_VERSION,
                process_factory=SessionRunner(
                    home=self._home, env=self._env, children=self._children, user=self._user
                ),
                sftp_factory=functools.partial(HomeSFTPServer, home=self._home, user=self._user),
                allow_scp=True,
                encoding=None,
                line_editor=False,
                x11_forwarding=False,
            )
        except BaseException:
            sock.close()
            raise

    async def stop(self) -> None:
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            acceptor.close()
            await acceptor.wait_closed()
        connections = list(self._connections)
        for conn in connections:
            conn.close()
        for conn in connections:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5)
        with contextlib.suppress(FileNotFoundError):
            self._socket_path.unlink()
