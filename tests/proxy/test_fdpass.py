"""The descriptor hand-off on real unix sockets: single-use tickets, same uid only, expiry.

The daemon side (``FdPass``) runs in this event loop with a stand-in relay that echoes in
upper case; the client side is the proxy's own ``redeem_ticket``, run in a thread.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from bridge.daemon.fdpass import FdPass, SocketStream
from bridge.daemon.pool import ManagedChannel
from bridge.proxy_fdpass import how_it_ended, redeem_ticket
from bridge.proxy_messages import DAEMON_GONE, ProxyError, notice_line
from tests.support.other_user import OtherUser

# Run by /usr/bin/python3 as another user: what does fd.sock answer to a valid ticket?
REDEEM_AS_OTHER = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect failed", e.errno); sys.exit(0)
try:
    s.sendall(sys.argv[2].encode() + b"\n")
    data, fds, _, _ = socket.recv_fds(s, 1024, 1)
except OSError:  # closed under us: refused before anything was read
    data, fds = b"", []
print("fds", len(fds), "data", data)
"""


class _Channel:
    def __init__(self, name: str) -> None:
        self.id = name


class Harness:
    def __init__(self, path: Path, ttl: float) -> None:
        self.path = path
        self.released: list[str] = []
        self.streams: dict[str, SocketStream] = {}
        self.fdpass = FdPass(self._relay, self._release, ttl=ttl)

    async def _relay(self, managed: ManagedChannel, stream: SocketStream) -> None:
        """Echo in upper case; ``fail:CAUSE`` ends the session abnormally, naming CAUSE."""
        self.streams[managed.id] = stream
        error = None
        try:
            while data := await stream.read():
                if data.startswith(b"fail:"):
                    error = data[5:].decode()
                    break
                await stream.write(data.upper())
            else:
                await stream.write_eof()
        finally:
            await stream.close(error)
            await self._release(managed)

    async def _release(self, managed: ManagedChannel) -> None:
        self.released.append(managed.id)

    def issue(self, name: str) -> str:
        return self.fdpass.issue(cast(ManagedChannel, _Channel(name)))

    async def redeem(self, ticket: str) -> int:
        fd, watch = await self.redeem_watched(ticket)
        watch.close()
        return fd

    async def redeem_watched(self, ticket: str) -> tuple[int, socket.socket]:
        """The descriptor and the hand-off connection the proxy's watcher keeps (a bare
        ``_socket.socket`` in the proxy, made a ``socket.socket`` here for ``with``)."""
        fd, watch = await asyncio.to_thread(redeem_ticket, str(self.path), ticket)
        return fd, socket.socket(fileno=watch.detach())

    async def redeem_as_older_proxy(self, ticket: str) -> tuple[int, socket.socket]:
        """What a proxy from before notices does: the ticket, the descriptor, no hello."""

        def redeem() -> tuple[int, socket.socket]:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(self.path))
            sock.sendall(ticket.encode() + b"\n")
            _data, fds, _flags, _addr = socket.recv_fds(sock, 1, 1)
            return fds[0], sock

        return await asyncio.to_thread(redeem)

    async def stream(self, name: str) -> SocketStream:
        """The daemon's end of a redeemed channel, once its relay runs."""
        for _ in range(200):
            if name in self.streams:
                return self.streams[name]
            await asyncio.sleep(0.01)
        raise AssertionError(f"no relay for {name}")


@pytest.fixture
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    root = Path(tempfile.mkdtemp(prefix="smfd-"))
    os.chmod(root, 0o700)
    ttl = float(getattr(request, "param", 5.0))
    h = Harness(root / "fd.sock", ttl)
    await h.fdpass.start(h.path)
    try:
        yield h
    finally:
        await h.fdpass.close()
        shutil.rmtree(root)


def _echo(fd: int, payload: bytes) -> bytes:
    """Through the passed descriptor: send, half-close, read to EOF."""
    with socket.socket(fileno=fd) as sock:
        sock.settimeout(10)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
        return got


async def test_a_ticket_gives_one_descriptor_bound_to_the_channel_once(harness: Harness) -> None:
    assert os.stat(harness.path).st_mode & 0o777 == 0o600
    ticket = harness.issue("ch-1")
    fd = await harness.redeem(ticket)
    payload = os.urandom(300_000).hex().encode()
    assert await asyncio.to_thread(_echo, fd, payload) == payload.upper()
    for _ in range(100):  # the relay releases the channel once the socket closes
        if harness.released:
            break
        await asyncio.sleep(0.02)
    assert harness.released == ["ch-1"]
    with pytest.raises(ProxyError, match="unknown or already used ticket"):
        await harness.redeem(ticket)
    with pytest.raises(ProxyError, match="unknown or already used ticket"):
        await harness.redeem("guessed")
    assert harness.fdpass.pending() == 0


@pytest.mark.parametrize("harness", [0.3], indirect=True)
async def test_an_unredeemed_ticket_expires_and_releases_its_channel(harness: Harness) -> None:
    ticket = harness.issue("ch-late")
    await asyncio.sleep(0.6)
    assert harness.released == ["ch-late"]
    assert harness.fdpass.pending() == 0
    with pytest.raises(ProxyError, match="unknown or already used ticket"):
        await harness.redeem(ticket)


async def test_closing_releases_parked_channels(harness: Harness) -> None:
    harness.issue("ch-parked")
    await harness.fdpass.close()
    assert harness.released == ["ch-parked"]
    assert not harness.fdpass.listening


async def test_another_uid_gets_nothing_even_with_the_ticket(
    harness: Harness, other_user: OtherUser
) -> None:
    ticket = harness.issue("ch-2")

    def as_nobody() -> str:
        done = subprocess.run(
            other_user.argv("/usr/bin/python3", "-c", REDEEM_AS_OTHER, str(harness.path), ticket),
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return done.stdout.strip()

    assert await asyncio.to_thread(as_nobody) == "connect failed 13"  # the 0700 directory
    # Loosen every mode: the SO_PEERCRED check alone still hands nothing out.
    os.chmod(harness.path.parent, 0o711)
    os.chmod(harness.path, 0o666)
    assert await asyncio.to_thread(as_nobody) == "fds 0 data b''"
    # The refusal did not spend the ticket: its owner still redeems it.
    fd = await harness.redeem(ticket)
    assert await asyncio.to_thread(_echo, fd, b"mine") == b"MINE"


async def test_the_watcher_hears_nothing_to_say_after_a_normal_end(harness: Harness) -> None:
    fd, watch = await harness.redeem_watched(harness.issue("ch-ok"))
    assert await asyncio.to_thread(_echo, fd, b"bye") == b"BYE"
    with watch:
        assert await asyncio.to_thread(how_it_ended, watch) is None


async def test_the_watcher_is_told_the_cause_of_an_abnormal_end(harness: Harness) -> None:
    fd, watch = await harness.redeem_watched(harness.issue("ch-bad"))
    cause = "space 'demo' stopped\n\x1b[31mred"
    with socket.socket(fileno=fd) as sock:
        sock.sendall(f"fail:{cause}".encode())
        with watch:
            said = await asyncio.to_thread(how_it_ended, watch)
        sock.settimeout(10)
        # ssh's side closes only after the watcher had its say
        assert await asyncio.to_thread(sock.recv, 10) == b""
    # One line, whatever the cause held; the proxy's _say escapes what is left.
    assert said == "the session ended: space 'demo' stopped \x1b[31mred"


def test_a_connection_closed_without_a_notice_means_the_daemon_died() -> None:
    watch, daemon = socket.socketpair()
    with watch:
        daemon.close()  # what a killed daemon leaves: no notice, just the end of the connection
        assert how_it_ended(watch) == DAEMON_GONE


IDLE = {"space": "demo", "message": "space 'demo' stops in about 9 minutes (idle shutdown)"}


async def test_a_notice_reaches_the_watcher_before_the_end_notice(harness: Harness) -> None:
    """The framing both ways: ``SocketStream.notify`` writes, ``how_it_ended`` reads, and the
    relay path's wording function gives the line the watcher prints."""
    fd, watch = await harness.redeem_watched(harness.issue("ch-idle"))
    stream = await harness.stream("ch-idle")
    assert await stream.notify("space.idle", IDLE)
    notices: list[bytes] = []
    with watch:
        ending = asyncio.ensure_future(asyncio.to_thread(how_it_ended, watch, notices.append))
        assert await asyncio.to_thread(_echo, fd, b"bye") == b"BYE"
        assert await ending is None
    assert [notice_line(n) for n in notices] == [IDLE["message"]]


async def test_an_older_proxys_watcher_is_sent_no_notice(harness: Harness) -> None:
    """It would take any line but an end notice for a dead daemon: without its hello,
    nothing but the end notice goes down the hand-off connection."""
    fd, watch = await harness.redeem_as_older_proxy(harness.issue("ch-old"))
    stream = await harness.stream("ch-old")
    assert not await stream.notify("space.idle", IDLE)
    with watch:
        assert await asyncio.to_thread(_echo, fd, b"bye") == b"BYE"
        watch.settimeout(10)
        assert await asyncio.to_thread(watch.recv, 100) == b".\n"


def test_the_watcher_skips_a_kind_it_does_not_know() -> None:
    """A newer daemon's message kinds do not end the watch: only the end notices do."""
    watch, daemon = socket.socketpair()
    with watch, daemon:
        daemon.sendall(b"?something new\n~not json\n!space 'demo' stopped\n")
        notices: list[bytes] = []
        assert how_it_ended(watch, notices.append) == "the session ended: space 'demo' stopped"
    assert notices == [b"not json"]
    assert notice_line(b"not json") is None


async def test_the_passed_descriptor_queues_a_large_read_of_ssh_bytes(harness: Harness) -> None:
    """ssh writes to its end while under a quarter of its send buffer is queued: with the
    default buffer (208 KiB) that was ~52 KiB, so every read the daemon made was ssh's last
    write (64 KB) and a wake-up of its own; the passed end's buffer lets ~256 KiB wait."""
    fd = await harness.redeem(harness.issue("ch-buf"))
    with socket.socket(fileno=fd) as sock:
        # a unix socket is writable while under a quarter of its (doubled) buffer is queued
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 4 >= 256 * 1024
