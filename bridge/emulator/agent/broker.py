"""The emulated ``ssmmessages`` endpoint: StartSession grants, token checks, resume, terminate.

Session ids and StreamUrls copy AWS's shapes (``<user>-<17 hex>``,
``wss://host:port/v1/data-channel/<id>?role=publish_subscribe&cell-number=<n>``), so the
client's parsing and log redaction meet the same strings as in production; the scheme is
``ws://`` unless the broker was given a TLS context (the emulator's ``tls`` setting).

Tokens are one-time. StartSession issues the first; each ``resume_session`` issues a fresh one
and revokes any unused earlier token of that session. The first text frame's TokenValue must be
a live token of the session named in the URL path, and a resume must come from the ClientId
that opened the session. Anything else is refused by closing the websocket with 1008 (policy
violation) and no ``channel_closed`` [I]: the real service's code for a bad token is not in the
public sources, and a socket that never authenticated has no channel to close. A first frame
that is not an OpenDataChannelInput text frame gets 1002 (protocol error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from bridge.emulator.agent.errors import BrokerNotRunning, ResumeRefused, SessionNotFound
from bridge.emulator.agent.faults import FaultPlan
from bridge.emulator.agent.pacing import InputRateMeter
from bridge.emulator.agent.port import (
    Address,
    BasicPortApp,
    MuxPortApp,
    Resolve,
    Streams,
    mux_supported,
    open_address,
)
from bridge.emulator.agent.session import AgentSession, FlushLimits, SessionApp
from bridge.emulator.agent.shell import ShellApp
from bridge.ssm.codec import FrameError
from bridge.ssm.core import CoreConfig
from bridge.ssm.messages import OpenDataChannelInput
from bridge.ssm.wslog import WebsocketSecretsFilter

__all__ = ["Pacing", "SessionBroker", "SessionGrant", "SessionTarget"]

log = logging.getLogger(__name__)
# websockets' own debug lines would print the open frame (TokenValue) and the query.
_ws_log = logging.getLogger("bridge.emulator.websocket")
_ws_log.addFilter(WebsocketSecretsFilter())

Pacing = Literal["realistic", "unthrottled"]
REALISTIC_RATE = 990.0  # data messages/s the agent side sends: just under the service ceiling
INPUT_LIMIT = 1000  # client input_stream_data messages/s before pause_publication
_PATH_PREFIX = "/v1/data-channel/"
IDLE_REASON = "Your session timed out due to inactivity and has been terminated."
_LOCAL_PORT_FORWARDING = "LocalPortForwarding"


def _refuse_unresolvable(host: str, port: int) -> Address:
    raise ConnectionRefusedError(f"nothing listens on {host}:{port} in this space")


@dataclass(frozen=True)
class SessionTarget:
    """What a StartSession is for: the session document's type and properties, and the space."""

    session_type: str = "Port"
    properties: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({"portNumber": "22"})
    )
    resolve: Resolve = _refuse_unresolvable
    shell_argv: Sequence[str] | None = None


@dataclass(frozen=True)
class SessionGrant:
    """StartSession's answer. ``token_value`` and the StreamUrl's query are secrets."""

    session_id: str
    token_value: str
    stream_url: str

    def __repr__(self) -> str:
        return f"SessionGrant(session_id={self.session_id!r}, token_value=<redacted>, stream_url=<redacted>)"


class SessionBroker:
    """The service and agent side of every emulated data channel, on one websocket server."""

    def __init__(
        self,
        pacing: Pacing = "realistic",
        handshake_timeout: float = 15.0,
        host: str = "127.0.0.1",
        orphan_timeout: float | None = 600.0,
        idle_timeout: float | None = None,
        agent_burst: int = 16,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if pacing not in ("realistic", "unthrottled"):
            raise ValueError(f"unknown pacing {pacing!r}")
        if agent_burst < 1:
            raise ValueError(f"agent_burst must be 1 or more, not {agent_burst}")
        # Messages per pacing tick under a backlog: 1 writes each message on its own, about
        # one per millisecond, as the real agent does (docs/design/emulator-agent.md "Pacing").
        self.agent_burst = agent_burst
        self.tls = tls  # a server context: StreamUrls are wss://, as the service's
        self.pacing: Pacing = pacing
        self.handshake_timeout = handshake_timeout
        self.host = host
        self.orphan_timeout = orphan_timeout
        self.idle_timeout = idle_timeout  # seconds without data either way: terminated
        self.faults = FaultPlan()
        self.close_flush = FlushLimits()  # how long a clean end waits for the client's acks
        self._sessions: dict[str, AgentSession] = {}
        self._targets: dict[str, SessionTarget] = {}
        self._tokens: dict[str, str] = {}  # one-time token -> session id
        self._server: Server | None = None
        self._port = 0
        self.public_port: int | None = None  # what StreamUrls name (a delay line in front)
        self._cell = str(secrets.randbelow(90) + 10)
        self._activity: dict[str, tuple[int, float]] = {}  # id -> (bytes moved, when it moved)
        self._idle_watch: asyncio.Task[None] | None = None
        # Websockets accepted, by the scheme they came in on: the proof a client's channel
        # really ran over TLS (``tls``), not just that a wss URL was handed out.
        self.accepted: dict[str, int] = {"ws": 0, "wss": 0}

    # -- lifecycle

    async def start(self, host: str | None = None, port: int = 0) -> None:
        if host is not None:
            self.host = host
        self._server = await serve(
            self._handle,
            self.host,
            port,
            ping_interval=None,  # the plugin pings every 5 min and never checks the pong
            max_size=None,
            max_queue=64,
            compression=None,
            # a slow client still reads the tail (the last data, channel_closed, the close
            # frame) before websockets aborts the socket and discards what it buffered
            close_timeout=10.0,
            logger=_ws_log,
            ssl=self.tls,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        if self.idle_timeout is not None:
            self._idle_watch = asyncio.get_running_loop().create_task(self._watch_idle())

    @property
    def port(self) -> int:
        return self._port

    async def stop(self) -> None:
        """End every session (channel_closed where a socket is attached), then stop serving."""
        watch, self._idle_watch = self._idle_watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        sessions = [s for s in self._sessions.values() if not s.ended.is_set()]
        for session in sessions:
            session.finish("", graceful=False)
        if sessions:
            await asyncio.gather(*(s.wait_ended() for s in sessions), return_exceptions=True)
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        self._tokens.clear()

    # -- control plane side

    @property
    def sessions(self) -> Mapping[str, AgentSession]:
        """Every session created so far (ended ones included), for introspection and stats."""
        return MappingProxyType(self._sessions)

    def create_session(self, target: SessionTarget, *, user: str = "smconnect") -> SessionGrant:
        """StartSession: a new session id, its one-time token and the StreamUrl to dial."""
        if self._server is None:
            raise BrokerNotRunning("the session broker is not running")
        session_id = f"{user}-{secrets.token_hex(9)[:17]}"
        session = AgentSession(
            session_id=session_id,
            session_type=target.session_type,
            properties=(dict(target.properties) if target.session_type == "Port" else None),
            app_factory=lambda s: self._app_for(s, target),
            config=self._core_config(),
            faults=self.faults,
            meter=InputRateMeter(INPUT_LIMIT) if self.pacing == "realistic" else None,
            on_end=self._ended,
            orphan_timeout=self.orphan_timeout,
            flush=self.close_flush,
        )
        self._sessions[session_id] = session
        self._targets[session_id] = target
        self._activity[session_id] = (0, asyncio.get_running_loop().time())
        token = self._issue(session_id)
        return SessionGrant(session_id, token, self.stream_url(session_id))

    def stream_url(self, session_id: str) -> str:
        """The StreamUrl of a session (ResumeSession returns it again; clients redial it)."""
        if session_id not in self._sessions:
            raise SessionNotFound(f"no session {session_id}")
        scheme = "ws" if self.tls is None else "wss"
        return (
            f"{scheme}://{self.host}:{self.public_port or self._port}{_PATH_PREFIX}{session_id}"
            f"?role=publish_subscribe&cell-number={self._cell}"
        )

    def resume_session(self, session_id: str) -> str:
        """ResumeSession: a fresh one-time token for the same StreamUrl."""
        session = self._sessions.get(session_id)
        if session is None or not session.resumable:
            raise SessionNotFound(f"no active session {session_id}")
        if self.faults.refuse_resume:
            raise ResumeRefused(f"resume of session {session_id} refused")
        return self._issue(session.session_id)

    def terminate_session(self, session_id: str) -> None:
        """TerminateSession: the session ends with channel_closed (asynchronously)."""
        self._live(session_id).finish("", graceful=False)

    # -- internals

    def _core_config(self) -> CoreConfig:
        rate = REALISTIC_RATE if self.pacing == "realistic" else None
        return CoreConfig(
            rate_limit=rate, handshake_timeout=self.handshake_timeout, pace_batch=self.agent_burst
        )

    def _live(self, session_id: str) -> AgentSession:
        session = self._sessions.get(session_id)
        if session is None or session.is_ending or session.ended.is_set():
            raise SessionNotFound(f"no active session {session_id}")
        return session

    def _issue(self, session_id: str) -> str:
        self._revoke(session_id)
        value = secrets.token_urlsafe(96)
        self._tokens[value] = session_id
        return value

    def _revoke(self, session_id: str) -> None:
        for value in [v for v, owner in self._tokens.items() if owner == session_id]:
            del self._tokens[value]

    def _ended(self, session: AgentSession) -> None:
        self._revoke(session.session_id)
        self._activity.pop(session.session_id, None)

    async def _watch_idle(self) -> None:
        """Session Manager's idle session timeout, enforced on the service side: application
        bytes in either direction are activity; a session without any for ``idle_timeout``
        seconds ends with channel_closed and cannot be resumed."""
        timeout = self.idle_timeout
        assert timeout is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(max(timeout / 20, 0.01), 5.0))
            now = loop.time()
            for session_id, (moved, since) in list(self._activity.items()):
                session = self._sessions[session_id]
                if session.is_ending or session.ended.is_set():
                    continue
                stats = session.core_stats
                total = stats.bytes_sent + stats.bytes_received
                if total != moved:
                    self._activity[session_id] = (total, now)
                elif now - since >= timeout:
                    log.info("session %s idle for %.1fs: terminated", session_id, now - since)
                    session.finish(IDLE_REASON, graceful=False)

    def _app_for(self, session: AgentSession, target: SessionTarget) -> SessionApp:
        if target.session_type != "Port":
            return ShellApp(session, target.shell_argv)
        properties = target.properties
        port = int(properties.get("portNumber", "0") or 0)
        kind = properties.get("type", "")
        if kind == _LOCAL_PORT_FORWARDING and mux_supported(session.client_version):
            host = properties.get("host", "localhost") or "localhost"

            async def dial_host() -> Streams:
                return await open_address(target.resolve(host, port))

            return MuxPortApp(session, dial_host)

        async def dial_localhost() -> Streams:
            return await open_address(target.resolve("localhost", port))

        return BasicPortApp(session, dial_localhost, redial=kind == _LOCAL_PORT_FORWARDING)

    async def _handle(self, ws: ServerConnection) -> None:
        self.accepted["ws" if ws.transport.get_extra_info("ssl_object") is None else "wss"] += 1
        path = urlsplit(ws.request.path if ws.request is not None else "").path
        session_id = path[len(_PATH_PREFIX) :] if path.startswith(_PATH_PREFIX) else ""
        try:
            async with asyncio.timeout(self.handshake_timeout):
                first = await ws.recv()
        except (TimeoutError, ConnectionClosed):
            await ws.close(CloseCode.POLICY_VIOLATION, "no OpenDataChannel request")
            return
        if not isinstance(first, str):
            await ws.close(CloseCode.PROTOCOL_ERROR, "expected an OpenDataChannel text frame")
            return
        try:
            request = OpenDataChannelInput.from_json(first)
        except FrameError:
            await ws.close(CloseCode.PROTOCOL_ERROR, "malformed OpenDataChannel request")
            return
        session = self._authenticate(session_id, request)
        if session is None:
            log.info("data channel refused: bad or used token (session path %s)", session_id)
            await ws.close(CloseCode.POLICY_VIOLATION, "authentication failed")
            return
        with contextlib.suppress(ConnectionClosed):
            await session.serve(ws, first)

    def _authenticate(self, session_id: str, request: OpenDataChannelInput) -> AgentSession | None:
        if self._tokens.get(request.token_value) != session_id or not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None or not session.resumable:
            return None
        if session.client_id is not None and session.client_id != request.client_id:
            return None
        del self._tokens[request.token_value]
        return session
