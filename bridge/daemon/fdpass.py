"""Descriptor hand-off: ssh talks to the daemon directly, with no relay process in between.

``proxy.open`` with ``fdpass`` opens the channel as usual, then parks it under a one-time ticket
instead of upgrading the websocket. The proxy redeems the ticket on ``fd.sock`` (beside
``daemon.sock``, same private directory, same same-uid rule) and receives one end of a
``socketpair()`` in SCM_RIGHTS; it passes that descriptor on to ssh (``ProxyUseFdpass yes``)
and exits. The daemon relays the other end to the channel with plain asyncio streams: raw
bytes, no websocket framing, one Python process (this one) on the data path.

Tickets are random, single-use, short-lived and never logged: a ticket not redeemed within
``TICKET_TTL`` seconds is dropped and its channel released. See docs/design/proxy.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from bridge.daemon.auth import peer_allowed, peer_uid
from bridge.daemon.pool import ManagedChannel

__all__ = ["ByteStream", "FdPass", "SocketStream"]

log = logging.getLogger("smconnect.daemon")

TICKET_TTL = 5.0
REDEEM_TIMEOUT = 5.0
MAX_TICKET = 128  # a token_urlsafe(32) is 43 characters; anything longer is not ours
OK = b"\0"  # the byte carrying the descriptor; else "!" + reason (bridge.proxy reads it)
END_CLEAN = b".\n"  # on the hand-off connection, once the session ended normally
END_ERROR = b"!"  # ... or this, the cause and a newline, when it did not
NOTICE = b"~"  # during the session: a JSON-RPC notification and a newline (``space.idle``)
WATCH_HELLO = b"notices "  # the watcher's first line, "notices 1": it reads NOTICE lines
MAX_NOTICE = 4096  # a notice longer than this is not sent (the watcher's line limit)
NOTICE_GRACE = 1.0  # how long the proxy's watcher gets to print before ssh sees the close
READ_LIMIT = 64 * 1024
"""The StreamReader's limit on ssh's socket: reading pauses once it holds twice this. While the
channel's queue is full (``bridge.ssm.stream.HIGH``) the relay takes nothing from it, so ssh's
bytes then wait in the kernel and are taken in one read (up to 256 KiB) when the queue falls
low, instead of one read and one wake-up per ssh write (64 KB) up to 512 KiB held here."""
SSH_SEND_BUFFER = 512 * 1024
"""SO_SNDBUF of ssh's end (the kernel doubles it). ssh writes when its socket is writable, which
for a unix socket is while under a quarter of this is queued: with the default (208 KiB) that
was ~52 KiB, so ssh wrote 64 KB and waited for us to read it, and no read could be larger.
With this ssh keeps ~256 KiB waiting, one read's worth, while the relay is not reading."""


class ByteStream(Protocol):
    """What the relay copies to and from: the websocket stream, or the passed socket's end."""

    async def read(self, n: int = -1) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    async def write_eof(self) -> None: ...
    async def end_clean(self) -> None: ...
    async def close(self, error: str | None = None) -> None: ...


Relay = Callable[[ManagedChannel, "SocketStream"], Awaitable[None]]
Release = Callable[[ManagedChannel], Awaitable[None]]


class SocketStream:
    """The daemon's end of the socket pair, as a ``ByteStream`` (EOF and resets read as b"").

    ``watcher`` is the hand-off connection, kept open by the process the proxy leaves behind:
    ``close`` tells it how the session ended (``END_CLEAN``, or ``END_ERROR`` and the cause),
    so an abnormal end is named on ssh's stderr although no relay process is in the path.
    ``notify`` sends it a notice during the session (what the relay process would print), only
    if the watcher said on connecting that it reads them (``WATCH_HELLO``): an older proxy's
    watcher takes any line but the end notices for a dead daemon, so it is never sent one.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        watcher: socket.socket | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._watcher = watcher
        self._heard = b""  # what the watcher said so far, until its hello is complete
        self._listens = False
        self._telling = asyncio.Lock()  # a notice and the end notice never interleave

    async def read(self, n: int = -1) -> bytes:
        try:
            return await self._reader.read(262144 if n < 0 else n)
        except ConnectionError:
            return b""

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    def write_now(self, data: bytes) -> bool:
        """Write ``data`` now if the socket has nothing buffered (ssh keeps up), else take
        none of it: the channel's ``delivery.Sink``, so a read's data reaches ssh from the
        channel's read loop, without a step of the relay's task. What the kernel does not
        take at once asyncio buffers; the next data then goes the ``write`` way, with its
        drain."""
        transport = self._writer.transport
        if transport.is_closing() or transport.get_write_buffer_size():
            return False
        transport.write(data)
        return True

    async def write_eof(self) -> None:
        with contextlib.suppress(OSError):
            self._writer.write_eof()

    async def close(self, error: str | None = None) -> None:
        if error is not None:  # named first, so the line comes before ssh's own complaint
            await self._tell_watcher(END_ERROR + _one_line(error).encode() + b"\n")
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
        if error is None:
            await self._tell_watcher(END_CLEAN)

    async def end_clean(self) -> None:
        """Tell the watcher now that the session ended normally (ssh closed its side, so
        nothing after this is for its user): it exits at once instead of after the channel's
        drain, and whoever waits on ssh's stderr (a script's ``$(ssh …)``) is not held up by
        it. ``close`` then has nothing left to tell."""
        await self._tell_watcher(END_CLEAN)

    async def notify(self, method: str, params: dict[str, Any]) -> bool:
        """Send the watcher a notification (``NOTICE``, the JSON-RPC text the relay process
        gets as a websocket message); False when there is no watcher that reads notices."""
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params})  # one line
        line = NOTICE + body.encode() + b"\n"
        async with self._telling:
            watcher = self._watcher
            if watcher is None or not self._watcher_listens(watcher) or len(line) > MAX_NOTICE:
                return False
            loop = asyncio.get_running_loop()
            try:
                await asyncio.wait_for(loop.sock_sendall(watcher, line), 5.0)
            except (OSError, TimeoutError):
                return False
            return True

    def _watcher_listens(self, watcher: socket.socket) -> bool:
        """Whether the watcher's hello (sent right after the hand-off, long before any notice)
        says it reads notices: ``notices N`` with N >= 1. Non-blocking: silence is an older
        proxy's watcher."""
        while not self._listens and b"\n" not in self._heard and len(self._heard) < 64:
            try:
                chunk = watcher.recv(64 - len(self._heard))
            except OSError:  # BlockingIOError: nothing said (yet)
                return False
            if not chunk:
                return False
            self._heard += chunk
            line = self._heard.split(b"\n", 1)[0]
            if b"\n" in self._heard and line.startswith(WATCH_HELLO):
                version = line[len(WATCH_HELLO) :]
                self._listens = version.isdigit() and int(version) >= 1
        return self._listens

    async def _tell_watcher(self, notice: bytes) -> None:
        """Send the end notice and give the watcher ``NOTICE_GRACE`` to read it (it closes
        its side once it has printed); a watcher already gone costs nothing."""
        async with self._telling:
            watcher, self._watcher = self._watcher, None
        if watcher is None:
            return
        loop = asyncio.get_running_loop()
        with watcher, contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(loop.sock_sendall(watcher, notice), NOTICE_GRACE)
            await asyncio.wait_for(_until_closed(watcher), NOTICE_GRACE)


async def _until_closed(sock: socket.socket) -> None:
    """Read (a hello not read yet, say) until the peer closes its side."""
    loop = asyncio.get_running_loop()
    while await loop.sock_recv(sock, 256):
        pass


def _one_line(text: str) -> str:
    return " ".join(text.split())[:1000]


class FdPass:
    """The ``fd.sock`` listener and its tickets."""

    def __init__(self, relay: Relay, release: Release, *, ttl: float = TICKET_TTL) -> None:
        self._relay = relay
        self._release = release
        self._ttl = ttl
        self._tickets: dict[str, tuple[ManagedChannel, asyncio.TimerHandle]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: socket.socket | None = None
        self._own_uid = os.getuid()
        self.path: Path | None = None

    @property
    def listening(self) -> bool:
        return self._listener is not None

    async def start(self, path: Path) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            os.chmod(path, 0o600)
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        listener.setblocking(False)
        self._listener, self.path = listener, path
        self._spawn(self._accept_loop(listener))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for task in list(self._tasks):
            task.cancel()
        for managed, timer in list(self._tickets.values()):
            timer.cancel()
            await self._release(managed)
        self._tickets.clear()

    def issue(self, managed: ManagedChannel) -> str:
        """Park ``managed`` (whose hold passes to us) under a new ticket."""
        ticket = secrets.token_urlsafe(32)
        timer = asyncio.get_running_loop().call_later(self._ttl, self._expire, ticket)
        self._tickets[ticket] = (managed, timer)
        return ticket

    def pending(self) -> int:
        return len(self._tickets)

    def _expire(self, ticket: str) -> None:
        entry = self._tickets.pop(ticket, None)
        if entry is not None:
            log.info("a descriptor ticket for channel %s expired unredeemed", entry[0].id)
            self._spawn(self._release(entry[0]))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError:
                if self._listener is None:
                    return
                await asyncio.sleep(0.1)  # EMFILE and the like: do not spin
                continue
            self._spawn(self._serve(conn))

    async def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.setblocking(False)
            if not peer_allowed(peer_uid(conn), self._own_uid, unix=True):
                log.warning("refused a descriptor request: peer runs as another user")
                return  # nothing read, nothing said: the same as the API socket's refusal
            try:
                ticket = await asyncio.wait_for(_read_line(conn), REDEEM_TIMEOUT)
            except (TimeoutError, OSError, ValueError):
                return
            entry = self._tickets.pop(ticket, None)
            if entry is None:
                await _say(conn, "unknown or already used ticket")
                return
            managed, timer = entry
            timer.cancel()
            # The connection outlives this call: it is where the session's end is told.
            await self._hand_over(conn.dup(), managed)

    async def _hand_over(self, conn: socket.socket, managed: ManagedChannel) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with theirs:
                theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SSH_SEND_BUFFER)
                socket.send_fds(conn, [OK], [theirs.fileno()])
        except OSError as exc:
            ours.close()
            conn.close()
            log.info("descriptor hand-off for channel %s failed: %s", managed.id, exc)
            await self._release(managed)
            return
        reader, writer = await asyncio.open_connection(sock=ours, limit=READ_LIMIT)
        log.debug("channel %s handed over as a descriptor", managed.id)
        self._spawn(self._relay(managed, SocketStream(reader, writer, watcher=conn)))


async def _read_line(conn: socket.socket) -> str:
    loop = asyncio.get_running_loop()
    data = b""
    while b"\n" not in data:
        chunk = await loop.sock_recv(conn, MAX_TICKET)
        if not chunk:
            raise ValueError("no ticket")
        data += chunk
        if len(data) > MAX_TICKET:
            raise ValueError("ticket too long")
    return data.split(b"\n", 1)[0].decode("ascii", "replace")


async def _say(conn: socket.socket, message: str) -> None:
    with contextlib.suppress(OSError):
        await asyncio.get_running_loop().sock_sendall(conn, b"!" + message.encode() + b"\n")
