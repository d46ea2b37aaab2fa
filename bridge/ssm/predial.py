"""A connection to where the StreamUrl will point, opened while StartSession is under way.

A new channel used to wait for StartSession's answer before it opened the websocket's
connection: TCP's handshake (one round trip), TLS's (one more with TLS 1.3) and only then the
HTTP upgrade. The StreamUrl's host is predictable (the region's ``ssmmessages`` endpoint; the
previous StreamUrl of the same region and endpoint), so the TCP and TLS handshakes can run
beside StartSession, and only the upgrade is left when the URL arrives.

The guess is one function (``expected_target``). A pre-dialed connection is used for exactly
one StreamUrl whose scheme, host and port are the guess's; any other URL, a connection that
failed or closed meanwhile, or a proxy in the way (websockets would tunnel through it) closes
it and the channel dials as before. Nothing is sent on it before the URL is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from bridge.ssm.tls import shared_context

__all__ = ["DialTarget", "PreDial", "expected_target", "target_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DialTarget:
    """Where a websocket URL connects: what a pre-dialed connection must match."""

    secure: bool
    host: str
    port: int


def target_of(url: str) -> DialTarget | None:
    """The scheme, host and port ``url`` connects to (None: not a websocket URL)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return None
    secure = parts.scheme == "wss"
    return DialTarget(secure, parts.hostname.lower(), port or (443 if secure else 80))


def expected_target(
    last_url: str | None, region: str | None, endpoint_url: str | None
) -> DialTarget | None:
    """Where the next StreamUrl is expected to point: the previous StreamUrl's host and port
    for the same region and endpoint (the service always names its ``ssmmessages``
    endpoint; the emulator, its own broker), else, with AWS's own endpoints, the region's
    ``ssmmessages`` host on 443; None when nothing says (a custom endpoint never seen)."""
    if last_url is not None:
        return target_of(last_url)
    if endpoint_url is not None or not region:
        return None
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return DialTarget(True, f"ssmmessages.{region}.{suffix}", 443)


class _Parked(asyncio.Protocol):
    """Holds a connection until the websocket takes it: nothing is expected before the
    upgrade, so anything received, or the end, makes it unusable (and ``on_lost`` is told of
    the end; the websocket's own protocol replaces this one when it takes the connection)."""

    def __init__(self, on_lost: Callable[[], None] | None = None) -> None:
        self.usable = True
        self._on_lost = on_lost

    def data_received(self, data: bytes) -> None:
        self.usable = False

    def eof_received(self) -> bool | None:
        self.usable = False
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        if self._on_lost is not None:
            self._on_lost()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """A failed pre-dial nobody took is not an error to report."""
    if not task.cancelled():
        task.exception()


class PreDial:
    """The TCP (and, for ``wss``, TLS) connection to ``target``, opening in the background."""

    def __init__(
        self,
        target: DialTarget,
        *,
        ssl_context: ssl.SSLContext | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.target = target
        self._ssl = ssl_context
        self._on_lost = on_lost
        self._opening = asyncio.ensure_future(self._open())
        self._opening.add_done_callback(_retrieve)
        self._taken = False

    @classmethod
    def start(
        cls, target: DialTarget | None, *, on_lost: Callable[[], None] | None = None
    ) -> PreDial | None:
        """A pre-dial to ``target``; None without a target or when websockets would go through
        a proxy to it (the tunnel is websockets' to build). ``on_lost``: called if the
        connection ends before a websocket takes it."""
        if target is None:
            return None
        scheme = "wss" if target.secure else "ws"
        if get_proxy(parse_uri(f"{scheme}://{target.host}:{target.port}/")) is not None:
            return None
        return cls(target, on_lost=on_lost)

    def opened(self) -> bool:
        """Whether its handshakes are done and it is still usable."""
        return self._opening.done() and self.usable()

    def usable(self) -> bool:
        """False once it was handed out or given up, its opening failed or its connection
        ended; one still opening counts as usable."""
        if self._taken:
            return False
        if not self._opening.done():
            return True
        if self._opening.cancelled() or self._opening.exception() is not None:
            return False
        transport, parked = self._opening.result()
        return parked.usable and not transport.is_closing()

    async def _open(self) -> tuple[asyncio.Transport, _Parked]:
        loop = asyncio.get_running_loop()
        target = self.target
        tls: ssl.SSLContext | None = None
        if target.secure:
            tls = self._ssl or await shared_context()  # made once, off the loop (tls.py)
        transport, parked = await loop.create_connection(
            lambda: _Parked(self._on_lost),
            target.host,
            target.port,
            ssl=tls,
            server_hostname=target.host if tls is not None else None,
        )
        return transport, parked

    async def take(self, url: str) -> asyncio.Transport | None:
        """The open connection, if ``url`` connects where it does and it is still usable;
        else None, with the connection closed (the caller dials as before). Once only."""
        if self._taken:
            return None
        self._taken = True
        if target_of(url) != self.target:
            log.debug("pre-dialed %s:%d unused: the StreamUrl points elsewhere", *self._where())
            self._abort()
            return None
        try:
            transport, parked = await self._opening
        except (OSError, ssl.SSLError, asyncio.CancelledError) as exc:
            log.debug("pre-dial to %s:%d failed: %s", *self._where(), type(exc).__name__)
            return None
        if not parked.usable or transport.is_closing():
            transport.abort()
            return None
        return transport

    def close(self) -> None:
        """Give the connection up unless ``take`` handed it out: close it, or stop it opening."""
        if self._taken:
            return
        self._taken = True
        self._abort()

    def _abort(self) -> None:
        if not self._opening.done():
            self._opening.cancel()
            return
        with contextlib.suppress(BaseException):
            transport, _ = self._opening.result()
            transport.abort()

    def _where(self) -> tuple[str, int]:
        return self.target.host, self.target.port
