"""The default parts behind the control plane's seams: the real agent-side ``SessionBroker``
and ``SpaceRuntime``. Imported only when an Emulator starts without stand-ins."""

from __future__ import annotations

import ssl
from pathlib import Path

from bridge.emulator.agent import (
    Pacing,
    ResumeRefused,
    SessionBroker,
    SessionNotFound,
    SessionTarget,
)
from bridge.emulator.control.ports import (
    Resolver,
    SessionGrant,
    SessionNotResumable,
    SessionUnknown,
)
from bridge.emulator.delay import DelayLine
from bridge.emulator.runtime import SpaceRuntime


class BrokerGateway:
    """``SessionGateway`` over a ``SessionBroker``; ``broker`` stays reachable for its faults."""

    def __init__(
        self,
        pacing: Pacing = "realistic",
        host: str = "127.0.0.1",
        idle_timeout: float | None = None,
        latency: float = 0.0,
        agent_burst: int = 16,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.broker = SessionBroker(
            pacing=pacing, host=host, idle_timeout=idle_timeout, agent_burst=agent_burst, tls=tls
        )
        self._latency = latency
        self._line: DelayLine | None = None

    async def start(self) -> None:
        await self.broker.start(port=0)
        # Clients dial the delay line, which dials the broker: a TCP relay, so TLS runs end to
        # end through it and its handshake pays the link's round trips.
        if self._latency > 0:
            self._line = DelayLine(self.broker.host, self.broker.port, self._latency)
            await self._line.start()
            self.broker.public_port = self._line.port

    async def stop(self) -> None:
        line, self._line = self._line, None
        if line is not None:
            await line.stop()
        await self.broker.stop()

    def open_port_session(self, resolve: Resolver, port: int) -> SessionGrant:
        target = SessionTarget(
            session_type="Port", properties={"portNumber": str(port)}, resolve=resolve
        )
        grant = self.broker.create_session(target)
        return SessionGrant(grant.session_id, grant.token_value, grant.stream_url)

    def resume(self, session_id: str) -> str:
        try:
            return self.broker.resume_session(session_id)
        except SessionNotFound:
            raise SessionUnknown(session_id) from None
        except ResumeRefused:
            raise SessionNotResumable(session_id) from None

    def terminate(self, session_id: str) -> None:
        try:
            self.broker.terminate_session(session_id)
        except SessionNotFound:
            raise SessionUnknown(session_id) from None

    def active(self, session_id: str) -> bool:
        session = self.broker.sessions.get(session_id)
        return session is not None and not session.is_ending and not session.ended.is_set()


def space_runtime(space_name: str, app_type: str, root: Path) -> SpaceRuntime:
    return SpaceRuntime(space_name=space_name, app_type=app_type, root=root)
