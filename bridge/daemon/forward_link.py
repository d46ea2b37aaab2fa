"""One forward's two sides: a local listener that admits only our own user, and an SSH
connection into the space that is rebuilt on the next local connection after it died.

Why our own listener rather than asyncssh's: each accepted connection is checked before a byte
reaches the space (the peer's uid, see ``tcp_peer``), and a refused direct-tcpip channel
(nothing listens on the remote port) is seen here, logged and reported in ``state``, instead of
the client getting an empty reply while the forward shows "connected".

States (what ``forward.list`` / ``status`` show): ``connected``; ``reconnecting`` (the channel
is resuming, or a local connection is rebuilding it); ``space stopped`` (the app is not
running: the next connection after it runs again rebuilds the link); ``disconnected`` (the
channel ended, the space still runs: the next connection rebuilds it); ``failed`` (the last
rebuild failed, ``error`` says why). ``error`` also names a remote port nothing listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from bridge.aws.context import AwsContext
from bridge.aws.studio_space import Space
from bridge.daemon.errors import app_not_running
from bridge.daemon.pool import ChannelPool, ManagedChannel
from bridge.daemon.spaces import SpacesService
from bridge.daemon.ssh_link import drop_link, link_alive
from bridge.daemon.tcp_peer import can_tell_peer_uid, peer_uid
from bridge.redact import redact

__all__ = ["ForwardLink", "Listen"]

log = logging.getLogger("smconnect.daemon.forwards")

HOLD_OFF = 3.0  # seconds a failed rebuild is answered from memory (a client retrying in a loop)


@dataclass(frozen=True)
class Listen:
    """Where the forward listens: a TCP address, or a unix socket path (0600)."""

    host: str = "127.0.0.1"
    port: int = 0
    unix_socket: str | None = None


@dataclass(eq=False)
class ForwardLink:
    id: str
    context: AwsContext
    space: Space
    ssh_host: str
    remote_host: str
    remote_port: int
    spaces: SpacesService
    pool: ChannelPool
    managed: ManagedChannel | None = None
    ssh: asyncssh.SSHClientConnection | None = None
    error: str | None = None
    stopped: bool = False  # the space's app was found not running
    refused: int = 0  # connections refused because they came from another user
    local_host: str = "127.0.0.1"
    local_port: int = 0
    unix_socket: str | None = None
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.Task[None]] = field(default_factory=set)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _rebuilding: bool = False
    _failed_at: float | None = None
    _failed_changes: int = 0  # the workspace's ``changes`` at that failure

    @property
    def lock(self) -> asyncio.Lock:
        """Held while the link is (re)built; the first build holds it too (``forward.open``)."""
        return self._lock

    # -- the local side ------------------------------------------------------------------------

    async def listen(self, where: Listen) -> None:
        """Bind the listener; a unix socket is made 0600 before anyone can reach it."""
        if where.unix_socket is not None:
            path = where.unix_socket
            _clear_stale_socket(path)
            old = os.umask(0o177)  # the socket is born 0600: no window for another user
            try:
                self._server = await asyncio.start_unix_server(self._accept, path)
            finally:
                os.umask(old)
            os.chmod(path, 0o600)
            self.unix_socket = path
            return
        self._server = await asyncio.start_server(self._accept, where.host, where.port)
        self.local_host = where.host
        self.local_port = int(self._server.sockets[0].getsockname()[1])

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._pipes.add(task)
        task.add_done_callback(self._pipes.discard)

    def _admitted(self, writer: asyncio.StreamWriter) -> bool:
        """Only our own user gets in where the OS tells who connects (Linux TCP, unix sockets
        by their 0600 mode); elsewhere ``peer_check`` in the description says it is off."""
        if self.unix_socket is not None or not can_tell_peer_uid():
            return True
        peer = writer.get_extra_info("peername")
        sock = writer.get_extra_info("sockname")
        uid = peer_uid((peer[0], peer[1]), (sock[0], sock[1])) if peer and sock else None
        if uid == os.getuid():
            return True
        self.refused += 1
        who = "an unknown user" if uid is None else f"uid {uid}"
        log.warning(
            "forward %s: refused a connection from %s at %s:%s (only uid %d may use it)",
            self.id,
            who,
            peer[0] if peer else "?",
            peer[1] if peer else "?",
            os.getuid(),
        )
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not self._admitted(writer):
                return
            try:
                remote_reader, remote_writer = await self._open_remote()
            except Exception as exc:
                self.error = self.error or redact(str(exc))
                log.warning("forward %s: %s", self.id, self.error)
                return
            await _pipe(reader, writer, remote_reader, remote_writer)
        finally:
            writer.close()

    async def _open_remote(self) -> tuple[asyncssh.SSHReader[bytes], asyncssh.SSHWriter[bytes]]:
        """A direct-tcpip channel to the remote port; a dead SSH connection is rebuilt once."""
        for attempt in range(2):
            ssh = await self.connection()
            try:
                pair = await ssh.open_connection(self.remote_host, self.remote_port, encoding=None)
            except asyncssh.ChannelOpenError as exc:
                if ssh.is_closed() and not attempt:
                    continue
                self.error = (
                    f"nothing listens on {self.remote_host}:{self.remote_port} in space "
                    f"{self.space.name!r} ({exc.reason or 'connection refused'})"
                )
                raise ConnectionRefusedError(self.error) from None
            except (asyncssh.Error, OSError):
                if attempt or not ssh.is_closed():
                    raise
                continue
            self.error = None
            return pair
        raise ConnectionError(f"the connection to space {self.space.name!r} keeps closing")

    # -- the space side ------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return link_alive(self.ssh, self.managed)

    def adopt(self, managed: ManagedChannel, ssh: asyncssh.SSHClientConnection) -> None:
        self.managed, self.ssh, self.stopped, self.error = managed, ssh, False, None
        watch = asyncio.get_running_loop().create_task(self._watch(ssh))
        self._pipes.add(watch)  # held (and cancelled by ``close``) like the pipes
        watch.add_done_callback(self._pipes.discard)

    async def connection(self) -> asyncssh.SSHClientConnection:
        """The live SSH connection, rebuilt if it died. A stopped space is not started (that
        costs money and minutes): the connection is refused and ``state`` says why."""
        async with self._lock:
            if self.alive:
                assert self.ssh is not None
                return self.ssh
            loop = asyncio.get_running_loop()
            ws = self.spaces.workspace(self.context)
            # A failure is answered from memory for a while, unless a start or stop of ours
            # came since: a space just started must not be refused as still stopped.
            recent = self._failed_at is not None and loop.time() - self._failed_at < HOLD_OFF
            if recent and ws.changes == self._failed_changes:
                raise ConnectionError(self.error or "the forward is not connected")
            self._rebuilding = True
            try:
                await self._drop()
                ws.forget_spaces()
                space = await ws.resolve(self.space.ref)
                if not space.running:
                    self.stopped = True
                    raise app_not_running(space.name)
                managed, ssh = await self.pool.open_ssh(
                    ws, space, purpose="forward", ssh_host=self.ssh_host
                )
                self.space = space
                self.adopt(managed, ssh)
                log.info("forward %s: reconnected to space %s", self.id, space.ref)
                self._failed_at = None
                return ssh
            except Exception as exc:
                self._failed_at, self._failed_changes = loop.time(), ws.changes
                self.error = redact(str(exc))
                raise
            finally:
                self._rebuilding = False

    async def _watch(self, ssh: asyncssh.SSHClientConnection) -> None:
        """When the link ends, release its channel and learn whether the space stopped."""
        await ssh.wait_closed()
        if ssh is not self.ssh or self._server is None:
            return
        log.info("forward %s: the connection to space %s ended", self.id, self.space.ref)
        async with self._lock:
            if ssh is not self.ssh:
                return
            await self._drop()
            with contextlib.suppress(Exception):
                ws = self.spaces.workspace(self.context)
                ws.forget_spaces()
                self.stopped = not (await ws.resolve(self.space.ref)).running

    @property
    def state(self) -> str:
        if self._rebuilding:
            return "reconnecting"
        if self.alive and self.managed is not None:
            return str(self.managed.describe()["state"])
        if self.stopped:
            return "space stopped"
        return "failed" if self._failed_at is not None else "disconnected"

    def describe(self) -> dict[str, Any]:
        local = self.unix_socket or f"{self.local_host}:{self.local_port}"
        return {
            "id": self.id,
            "space": self.space.name,
            "local": local,
            "remote": f"{self.remote_host}:{self.remote_port}",
            "local_host": self.local_host,
            "local_port": self.local_port,
            "unix_socket": self.unix_socket,
            "remote_port": self.remote_port,
            "state": self.state,
            "error": self.error,
            "peer_check": self.unix_socket is not None or can_tell_peer_uid(),
            "refused": self.refused,
            "session": self.managed.describe() if self.alive and self.managed else None,
        }

    # -- teardown ------------------------------------------------------------------------------

    async def _drop(self) -> None:
        ssh, managed = self.ssh, self.managed
        self.ssh = self.managed = None
        await drop_link(self.pool, ssh, managed)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._pipes):
            task.cancel()
        if self.unix_socket is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.unix_socket)
        await self._drop()


def _clear_stale_socket(path: str) -> None:
    """A socket left at ``path`` (a forward of ours that died) is removed; anything else stays
    and makes the bind fail with a clear "address in use"."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    remote_reader: asyncssh.SSHReader[bytes],
    remote_writer: asyncssh.SSHWriter[bytes],
) -> None:
    """Copy both ways; each side's EOF is passed on as a half-close; ends when both are done."""

    async def up() -> None:
        while data := await reader.read(65536):
            remote_writer.write(data)
            await remote_writer.drain()
        remote_writer.write_eof()

    async def down() -> None:
        while data := await remote_reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        remote_writer.close()
