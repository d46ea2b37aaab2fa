"""Dialling the StreamUrl and keeping the websocket alive: the connection half of a channel.

What may be said about a connection (``redact_url``, ``describe_dial_error``) never carries the
URL's query, where the service puts its signature. Reconnect progress is reported as
``ReconnectEvent`` for the daemon to turn into notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import CloseCode

from bridge.ssm.errors import ChannelError
from bridge.ssm.options import ChannelOptions
from bridge.ssm.predial import PreDial
from bridge.ssm.tls import shared_context
from bridge.ssm.wsbatch import receiver_for
from bridge.ssm.wslog import WebsocketSecretsFilter

__all__ = [
    "DIAL_ERRORS",
    "ReconnectEvent",
    "ReconnectPhase",
    "close_websocket",
    "describe_dial_error",
    "dial",
    "keepalive",
    "redact_url",
]

log = logging.getLogger(__name__)

MAX_FRAME = 16 << 20  # the service sends ~1.1 kB frames, but nothing caps a receiver's payloads
DIAL_ERRORS = (OSError, TimeoutError, InvalidHandshake, ConnectionClosed)

_ws_log = logging.getLogger("bridge.ssm.websocket")
_ws_log.addFilter(WebsocketSecretsFilter())


def redact_url(url: str) -> str:
    """``scheme://host[:port]/path?<redacted>``: what of a StreamUrl may appear in logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable url>"
    query = "?<redacted>" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{query}"


class ReconnectPhase(enum.Enum):
    DROPPED = "dropped"  # the websocket went away; retries follow
    RETRYING = "retrying"  # about to wait ``delay`` and try attempt ``attempt``
    RESUMED = "resumed"  # a new websocket carries the channel again
    FAILED = "failed"  # gave up; the channel fails with ResumeFailed


@dataclass(frozen=True, slots=True)
class ReconnectEvent:
    """What the daemon turns into a user notification. ``reason`` never holds a secret."""

    phase: ReconnectPhase
    attempt: int = 0
    delay: float = 0.0
    reason: str = ""


def describe_dial_error(exc: BaseException) -> str:
    """A dial failure, without echoing anything that might carry the URL's query."""
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, ConnectionClosed):
        return f"connection closed during open (code {exc.rcvd.code if exc.rcvd else 'none'})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        # The URL beside it names the host. Python's default context (tls.py) trusts the
        # system's CA bundle, or the file SSL_CERT_FILE names instead.
        why = exc.verify_message or exc.reason or "verify failed"
        return f"TLS certificate not trusted ({why}; SSL_CERT_FILE or the system's CA bundle must hold its CA)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or type(exc).__name__}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


class _OnTransport(connect):
    """websockets' client on a connection opened before the URL was known (``predial``):
    the upgrade is made on it, as websockets itself does on a proxy's tunnel; a redirect
    (the service sends none) would dial as usual."""

    def __init__(self, transport: asyncio.Transport, uri: str, **kwargs: Any) -> None:
        self._transport: asyncio.Transport | None = transport
        super().__init__(uri, **kwargs)

    async def open_tcp_connection(self) -> ClientConnection:
        transport, self._transport = self._transport, None
        if transport is None:
            return await super().open_tcp_connection()
        connection = self.factory(self.ws_uri)
        transport.set_protocol(connection)
        connection.connection_made(transport)
        return connection


async def _connect(
    url: str, options: ChannelOptions, transport: asyncio.Transport | None
) -> ClientConnection:
    """websockets' client on ``transport``, or on a new connection; a ``wss`` dial uses the
    process's one TLS context (``tls.py``) rather than asyncio's new one per connection."""
    settings: dict[str, Any] = {
        "compression": None,
        "max_size": MAX_FRAME,
        "max_queue": 64,
        "open_timeout": options.open_timeout,
        "ping_interval": None,  # our own keepalive: ping at once, then rarely, no deadline
        "ping_timeout": None,
        "close_timeout": options.close_timeout,
        "logger": _ws_log,
    }
    if transport is not None:
        return await _OnTransport(transport, url, **settings)
    if url[:4].lower() == "wss:":
        settings["ssl"] = await shared_context()
    return await connect(url, **settings)


PREDIALED_ANSWER = 2.0
"""Seconds the upgrade on a connection opened beforehand may take before a fresh dial replaces
it. Its TCP and TLS handshakes are done, so the answer is one round trip away; a connection
that died silently meanwhile (a spare kept across a sleep, a network change or a NAT's
timeout: ``spare_dial.py``) would otherwise hold the channel for the whole ``open_timeout``."""


def _answered_soon(options: ChannelOptions) -> ChannelOptions:
    return dataclasses.replace(options, open_timeout=min(options.open_timeout, PREDIALED_ANSWER))


async def dial(
    url: str, open_text: str, options: ChannelOptions, predial: PreDial | None = None
) -> ClientConnection:
    """Open a websocket to ``url`` exactly as given and send the OpenDataChannelInput text.
    ``predial``: a connection opened while StartSession ran, used if it goes where ``url``
    does (only the upgrade is left); a connection that fails before the server answered
    the upgrade, or leaves it unanswered for ``PREDIALED_ANSWER`` seconds, is dialled again
    at once, as if there had been none."""
    transport = await predial.take(url) if predial is not None else None
    try:
        if transport is not None:
            log.debug("upgrading the connection opened beforehand to %s", redact_url(url))
            try:
                ws = await _connect(url, _answered_soon(options), transport)
            except (OSError, TimeoutError, ConnectionClosed) as exc:
                log.debug("pre-dialed connection failed (%s); dialling", describe_dial_error(exc))
                ws = await _connect(url, options, None)
        else:
            ws = await _connect(url, options, None)
    except InvalidURI:
        raise ChannelError(f"invalid StreamUrl {redact_url(url)}") from None
    try:
        await ws.send(open_text)
    except BaseException:
        ws.transport.abort()
        raise
    return ws


async def keepalive(
    ws: ClientConnection,
    options: ChannelOptions,
    on_latency: Callable[[float], None],
    redacted_url: str,
) -> None:
    """Ping at once and then every ``ping_interval``; a missing pong only matters if asked.

    The service's gorilla server answers pings; the plugin never checks the pong. A drop
    from a missing pong is therefore opt-in (``ping_timeout``) and generous.
    """
    if options.ping_interval is None:
        return

    def record(waiter: asyncio.Future[float]) -> None:
        if not waiter.cancelled() and waiter.exception() is None:
            on_latency(waiter.result())

    while True:
        waiter = asyncio.ensure_future(await ws.ping())
        waiter.add_done_callback(record)
        if options.ping_timeout is not None:
            try:
                await asyncio.wait_for(asyncio.shield(waiter), options.ping_timeout)
            except TimeoutError:
                log.warning(
                    "no pong from %s within %.0f s; reconnecting",
                    redacted_url,
                    options.ping_timeout,
                )
                ws.transport.abort()
                return
        await asyncio.sleep(options.ping_interval)


async def close_websocket(ws: ClientConnection | None, *, clean: bool, timeout: float) -> None:
    """Close ``ws`` with a normal close handshake when the channel ended cleanly, else abort."""
    if ws is None:
        return
    if not clean:
        ws.transport.abort()
        return
    # Keep reading while closing: frames still arriving would otherwise fill websockets'
    # queue, pause the socket, and hide the peer's close until close_timeout.
    discard = asyncio.create_task(_discard_messages(ws))
    try:
        await asyncio.wait_for(ws.close(CloseCode.NORMAL_CLOSURE), timeout)
    except (TimeoutError, OSError, ConnectionClosed):
        ws.transport.abort()
    finally:
        discard.cancel()


async def _discard_messages(ws: ClientConnection) -> None:
    receiver = receiver_for(ws)  # the read loop's: it may hold messages websockets does not
    with contextlib.suppress(ConnectionClosed):
        while True:
            await receiver.receive(1 << 16)
