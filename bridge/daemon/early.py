"""StartSession sent beside the description that decides whether it is wanted.

A cold ``proxy.open`` used to describe the space (one round trip) and only then ask for a
session (another). When the space's ARN is already known (``Workspace.known_arn``), the
session is asked for at the same moment as the description; the description still decides:

* it says the space is ours, its app runs and remote access is on (``fits``): the pool opens
  its channel on this grant (``take``) instead of calling StartSession;
* anything else (not running, another ARN, remote access off, the description failed): the
  session is terminated at once (``discard``) and the connection goes on exactly as without
  it. A refused early StartSession is simply not used (the pool asks again, with its own
  handling of the session limit and the not-yet-ready retries).

Every early session is either taken by the pool (then the pool's channel owns it) or
terminated: it would otherwise count against the space's session limit until the service
noticed. The pool's own StartSession, when its caller goes away while the call is in flight,
is ended the same way (``terminate_later``). ``EarlySessions.close`` (daemon shutdown) waits
for the terminations under way; each one ended is recorded in the pool's ``ended_at`` (what its
session-limit retry reads).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bridge.aws.studio_space import SessionGrant, Space
from bridge.daemon.workspace import Workspace
from bridge.ssm.predial import PreDial

__all__ = ["EarlySession", "EarlySessions"]

log = logging.getLogger("smconnect.daemon.early")

TERMINATE_TIMEOUT = 5.0  # as the pool's: one TerminateSession
Terminate = Callable[[Workspace, str, str], Coroutine[Any, Any, None]]
"""The pool's TerminateSession (workspace, session id, what it was): logged, never raised."""


class EarlySession:
    """One StartSession on ``arn``, already under way; ``take`` it or ``discard`` it."""

    def __init__(
        self, owner: EarlySessions, ws: Workspace, arn: str, predial: PreDial | None
    ) -> None:
        self.arn = arn
        self.predial = predial  # the websocket's connection, opening beside StartSession
        self._owner = owner
        self._ws = ws
        self._grant = asyncio.ensure_future(ws.run(lambda studio: studio.try_start_session(arn)))
        self._done = False

    def fits(self, space: Space) -> bool:
        """Whether a session on ``arn`` is what opening ``space`` (as just described) needs."""
        return space.arn == self.arn and space.running and space.remote_access == "ENABLED"

    async def take(self) -> SessionGrant | None:
        """The grant to open a channel on (the caller owns its session from here), or None
        when StartSession was refused or failed; once only."""
        if self._done:
            return None
        self._done = True
        try:
            return await asyncio.shield(self._grant)
        except asyncio.CancelledError:  # the caller gave up (ssh went away): end it anyway
            self._owner.terminate_later(self._ws, self._grant, self.arn, "its caller went away")
            raise
        except Exception as exc:  # the describe or the pool's own StartSession says why
            log.debug("early StartSession on %s failed: %s", self.arn, type(exc).__name__)
            return None

    def discard(self) -> None:
        """Terminate the session, in the background, unless it was taken; idempotent."""
        if self._done:
            return
        self._done = True
        if self.predial is not None:
            self.predial.close()
        self._owner.terminate_later(
            self._ws, self._grant, self.arn, "the description did not want it"
        )


class EarlySessions:
    """Makes early sessions and sees every session no channel took terminated (the pool holds
    one). ``ended_at`` is the pool's record (space arn -> when one of its sessions last
    ended), written here too: one record of what may still count against the limit."""

    def __init__(self, terminate: Terminate, ended_at: dict[str, float]) -> None:
        self._end_session = terminate
        self._ending: dict[asyncio.Task[None], str] = {}  # termination -> space arn
        self._ended_at = ended_at

    def start(self, ws: Workspace, arn: str, predial: PreDial | None = None) -> EarlySession:
        log.debug("StartSession on %s sent beside its description", arn)
        return EarlySession(self, ws, arn, predial)

    def terminate_later(
        self, ws: Workspace, grant: Awaitable[SessionGrant | None], arn: str, why: str
    ) -> None:
        """End the session ``grant`` brings, once it comes (nothing if it fails or is None)."""
        task = asyncio.get_running_loop().create_task(self._terminate(ws, grant, arn, why))
        self._ending[task] = arn
        task.add_done_callback(lambda done: self._ending.pop(done, None))

    def ending(self, arn: str) -> bool:
        """Whether an early session of ``arn`` is being terminated now."""
        return arn in self._ending.values()

    async def _terminate(
        self, ws: Workspace, grant: Awaitable[SessionGrant | None], arn: str, why: str
    ) -> None:
        try:
            session = await grant
        except Exception:
            return  # refused or failed: no session to end
        if session is None:
            return
        log.info("ending session %s, which no channel took: %s", session.session_id, why)
        await self._end_session(ws, session.session_id, "an untaken StartSession")
        self._ended_at[arn] = time.monotonic()

    async def close(self) -> None:
        """Daemon shutdown: wait for the terminations under way."""
        if self._ending:
            await asyncio.wait(list(self._ending), timeout=TERMINATE_TIMEOUT + 2.0)
