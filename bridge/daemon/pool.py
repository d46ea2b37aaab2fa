"""The daemon's data channels: every SSM session it holds, opened, shared and released here.

Every service that needs a way into a space (the ProxyCommand relay, port forwards, Jupyter,
``space.open``'s host-key check) asks the ``ChannelPool``; none of them calls StartSession or
``open_channel`` itself. The pool resumes dropped channels with a fresh token (ResumeSession),
waiting for the user to sign in when only a sign-in renews the credentials; it learns each app
run's host key once, over the SSM-authenticated channel (the trusted path), and keeps our
known_hosts in step; and it opens the daemon's own SSH connections over a channel.

Every session it no longer needs ends with TerminateSession: when its last holder releases
it, when it fails for good, and at daemon shutdown. A session left open counts against the
service's limit of active sessions per space (about 10) until the space's SSH server closes
its side, so leaked ones would lock the user out of their own space; StartSession answering
that limit is retried briefly while sessions of our own are ending.

Channels are keyed by ``ChannelKey`` (who, which space, what for, which lane) so that what the
next steps add fits without changing callers: warm spare channels (a ready channel per recently
used space, taken by ``open``), transfer lanes (``lane`` > 0, several at once per space) and
per-caller identities (the key's ``identity`` is the caller's ``IdentityKey``, so two
identities never share a channel; docs/design/identity.md). See docs/design/daemon-methods.md, "The channel pool".
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncssh

from bridge.aws.credentials import (
    credential_fingerprint,
    resolve_profile_name,
    sign_in_deadline,
    sign_in_hint,
)
from bridge.aws.errors import CredentialsError, SessionLimitExceeded
from bridge.aws.studio import Progress
from bridge.aws.studio_space import SessionGrant, Space
from bridge.daemon.channels import ChannelKey, ManagedChannel
from bridge.daemon.early import EarlySession, EarlySessions
from bridge.daemon.remembered import KnownHostKeys
from bridge.daemon.settings import DaemonSettings
from bridge.daemon.warm import WarmChannels
from bridge.daemon.workspace import Workspace
from bridge.ssh.aliases import host_key_alias
from bridge.ssh.known_hosts import KeyMemo, KnownHosts
from bridge.ssh.over_stream import connect_ssh, fetch_host_key
from bridge.ssm.core import CoreConfig
from bridge.ssm.predial import PreDial, expected_target, target_of
from bridge.ssm.spare_dial import SpareDials
from bridge.ssm.transport import ReconnectEvent, ReconnectPhase, open_channel

__all__ = ["Broadcast", "ChannelKey", "ChannelPool", "ManagedChannel"]

log = logging.getLogger("smconnect.daemon.pool")

Broadcast = Callable[[str, dict[str, Any]], Coroutine[Any, Any, object]]
"""Notify every client (``DaemonServer.broadcast``): channel state and credential events."""

_STATES = {
    ReconnectPhase.DROPPED: "reconnecting",
    ReconnectPhase.RETRYING: "reconnecting",
    ReconnectPhase.RESUMED: "connected",
    ReconnectPhase.FAILED: "failed",
}


TERMINATE_TIMEOUT = 5.0  # one TerminateSession; shutdown waits at most this for all of them
LIMIT_SETTLE = 3.0  # how long a held session may take to be noticed ending (the relay's drain)
ENDING_GRACE = 5.0  # after one of ours ends, a limit answer may still count it: retry meanwhile
LIMIT_RETRY = 0.5


def _no_progress(phase: str, message: str) -> None:
    return None


def _stream_url_key(ws: Workspace) -> tuple[str | None, str | None]:
    """What StreamUrls are remembered by (``ChannelPool._stream_urls``): the service's
    region and endpoint, which decide where the next StartSession's StreamUrl points."""
    return (ws.region, ws.key.endpoint_url)


class ChannelPool:
    def __init__(
        self,
        settings: DaemonSettings,
        *,
        broadcast: Broadcast,
        known_hosts: Path,
        host_keys: KnownHostKeys | None = None,
    ) -> None:
        self._settings = settings
        self._broadcast = broadcast
        self._known_hosts = known_hosts
        self._channels: dict[str, ManagedChannel] = {}
        self._ids = itertools.count(1)
        # each app run's host key, learnt once (and kept for the next daemon: remembered.py)
        self._host_keys = host_keys or KnownHostKeys(None)
        self._host_key_locks: dict[str, asyncio.Lock] = {}
        self._key_memo = KeyMemo()  # what our known_hosts held when we last set a key there
        self._warned: dict[Any, asyncio.TimerHandle] = {}
        self._checks: set[asyncio.Task[None]] = set()  # sign-in deadlines being looked up
        self._core_config = CoreConfig(rate_limit=settings.channel_rate)
        self._ended_at: dict[str, float] = {}  # space arn -> when one of our sessions last ended
        self.warm = WarmChannels(self, idle=settings.warm_idle, enabled=settings.warm_channels)
        # StartSession beside a description, and every session no channel took; it records
        # the sessions it ends in ``_ended_at`` too
        self.early = EarlySessions(self._terminate, self._ended_at)
        # ``_stream_url_key`` -> the last StreamUrl StartSession gave: where the next will point
        self._stream_urls: dict[tuple[str | None, str | None], str] = {}
        # one open TLS connection to each recently used wss endpoint, for the next cold dial
        self.spare_dials = SpareDials(idle=settings.warm_idle, enabled=settings.spare_dial)

    # -- what the pool holds -------------------------------------------------------------------

    def busy(self) -> bool:
        """True while any channel is held: the daemon must not exit under it (a warm spare
        does not count: it ends with the daemon)."""
        return any(m.purpose != "warm" for m in self._channels.values())

    def channels(self, *, include_hostkey: bool = False) -> list[ManagedChannel]:
        return [m for m in self._channels.values() if include_hostkey or m.purpose != "hostkey"]

    def find(self, key: ChannelKey) -> list[ManagedChannel]:
        """The live channels held under ``key`` (what a warm channel or a lane is looked up by)."""
        return [m for m in self._channels.values() if m.key == key and m.alive and m.ending is None]

    def find_space(self, space_arn: str) -> list[ManagedChannel]:
        """Every channel held to a space, whatever its purpose (its share of the session limit)."""
        return [m for m in self._channels.values() if m.key.space_arn == space_arn]

    # -- open, share, release ------------------------------------------------------------------

    async def open(
        self,
        ws: Workspace,
        space: Space,
        *,
        purpose: str,
        ssh_host: str,
        lane: int = 0,
        progress: Progress = _no_progress,
        retry_limit: bool = True,
        early: EarlySession | None = None,
    ) -> ManagedChannel:
        """A new channel to ``space``'s SSH server, handshaken and ready; held once. An ssh
        channel is the space's warm spare when there is one (``warm.py``), and starts the next.
        ``early``: a StartSession already sent for this space, used instead of a new one
        when it was granted (the caller discards it if it was not taken)."""
        key = ChannelKey(identity=ws.key, space_arn=space.arn, purpose=purpose, lane=lane)
        if purpose == "ssh":
            spare = self.warm.take(key)
            if spare is not None:
                spare.key, spare.ssh_host = key, ssh_host
                log.info("using warm channel %s for ssh to space %s", spare.id, space.ref)
                self.warm.used(ws, space, key, ssh_host)
                return spare
        managed = await self._open_new(ws, space, key, ssh_host, progress, retry_limit, early)
        if purpose == "ssh":
            self.warm.used(ws, space, key, ssh_host)
        return managed

    def start_early(self, ws: Workspace, arn: str) -> EarlySession:
        """StartSession on ``arn`` now, before the space is described (``early.py``), and the
        websocket's connection opening beside it."""
        return self.early.start(ws, arn, self._predial(ws))

    def _predial(self, ws: Workspace) -> PreDial | None:
        """The websocket's TCP and TLS handshakes, begun while StartSession runs, or done
        already (the endpoint's spare: ``spare_dial.py``)."""
        where = _stream_url_key(ws)
        return self.spare_dials.take(expected_target(self._stream_urls.get(where), *where))

    async def _open_new(
        self,
        ws: Workspace,
        space: Space,
        key: ChannelKey,
        ssh_host: str,
        progress: Progress,
        retry_limit: bool,
        early: EarlySession | None = None,
    ) -> ManagedChannel:
        predial = early.predial if early is not None else self._predial(ws)
        try:
            grant = await early.take() if early is not None else None
            if grant is None:
                grant = await self._start_session(ws, space, progress, retry_limit=retry_limit)
            self._stream_urls[_stream_url_key(ws)] = grant.stream_url
            self.spare_dials.used(target_of(grant.stream_url))
            return await self._open_granted(ws, space, key, ssh_host, grant, predial)
        finally:
            if predial is not None:
                predial.close()  # nothing if the dial took it

    async def _open_granted(
        self,
        ws: Workspace,
        space: Space,
        key: ChannelKey,
        ssh_host: str,
        grant: SessionGrant,
        predial: PreDial | None,
    ) -> ManagedChannel:
        purpose = key.purpose
        channel_id = f"{purpose}-{next(self._ids)}"

        async def resume() -> str:
            return await self._resume_token(ws, grant.session_id)

        def on_reconnect(event: ReconnectEvent) -> None:
            managed = self._channels.get(channel_id)
            if managed is not None:
                managed.state = _STATES[event.phase]
                if event.phase is ReconnectPhase.FAILED:  # for good: no resume will use it
                    self._end(managed)
            params = {
                "id": channel_id,
                "space": space.name,
                "phase": event.phase.value,
                "attempt": event.attempt,
                "reason": event.reason,
            }
            asyncio.get_running_loop().create_task(self._broadcast("session.state", params))

        try:
            channel = await open_channel(
                grant.stream_url,
                grant.token_value,
                resume=resume,
                on_reconnect=on_reconnect,
                config=self._core_config,
                predial=predial,
                read_hold=self._settings.read_hold,
            )
        except BaseException:  # no channel holds the session: end it, or it counts to the limit
            await asyncio.shield(self._terminate(ws, grant.session_id, purpose))
            raise
        managed = ManagedChannel(
            id=channel_id,
            key=key,
            space=space,
            ssh_host=ssh_host,
            session_id=grant.session_id,
            channel=channel,
            workspace=ws,
        )
        try:
            await channel.wait_ready()
        except BaseException:
            await asyncio.shield(self._end(managed, close_timeout=1.0))
            raise
        self._channels[channel_id] = managed
        log.info("opened %s channel %s to space %s", purpose, channel_id, space.ref)
        if purpose not in ("hostkey", "warm"):
            # Beside the hand-over, not before it: reading the profile's SSO cache or keyring
            # (in a worker thread) is no part of opening this channel.
            checking = asyncio.get_running_loop().create_task(self._warn_before_sign_in_ends(ws))
            self._checks.add(checking)
            checking.add_done_callback(self._checks.discard)
        return managed

    def share(self, managed: ManagedChannel) -> ManagedChannel:
        """One more holder of an open channel: it closes when the last one releases it."""
        if managed.id not in self._channels:
            raise ValueError(f"channel {managed.id} is not held by the pool")
        managed.holders += 1
        return managed

    async def release(self, managed: ManagedChannel) -> None:
        """Drop one hold; the last one closes the channel and terminates its SSM session."""
        managed.holders -= 1
        if managed.holders > 0:
            return
        await asyncio.shield(self._end(managed))

    async def close(self) -> None:
        """Daemon shutdown: end every session still held, within ``TERMINATE_TIMEOUT`` in all
        (a session we cannot terminate in time ends when the space's SSH server closes it)."""
        for check in list(self._checks):
            check.cancel()
        for timer in self._warned.values():
            timer.cancel()
        self.spare_dials.close()
        await self.warm.close()
        await self.early.close()
        endings = [self._end(m, close_timeout=2.0) for m in list(self._channels.values())]
        if endings:
            _, late = await asyncio.wait(endings, timeout=TERMINATE_TIMEOUT + 2.0)
            if late:
                log.warning("%d sessions were not terminated before shutdown", len(late))

    def _end(self, managed: ManagedChannel, *, close_timeout: float = 5.0) -> asyncio.Task[None]:
        """Close the channel and terminate its session, once however often asked (last
        release, failure for good, shutdown); the channel stays listed until it is done."""
        if managed.ending is None:
            managed.ending = asyncio.get_running_loop().create_task(
                self._close_and_terminate(managed, close_timeout)
            )
        return managed.ending

    async def _close_and_terminate(self, managed: ManagedChannel, close_timeout: float) -> None:
        try:
            with contextlib.suppress(Exception):
                await managed.channel.close(timeout=close_timeout)
            await self._terminate(managed.workspace, managed.session_id, managed.id)
            self._ended_at[managed.space.arn] = time.monotonic()
        finally:
            self._channels.pop(managed.id, None)
            log.info("closed channel %s", managed.id)

    async def _terminate(self, ws: Workspace, session_id: str, what: str) -> None:
        """TerminateSession, logged and never raised: the channel is gone either way."""
        try:
            await asyncio.wait_for(
                ws.run(lambda studio: studio.terminate_session(session_id)), TERMINATE_TIMEOUT
            )
        except Exception as exc:
            log.warning("could not terminate session %s of %s: %s", session_id, what, exc)

    async def _start_session(
        self, ws: Workspace, space: Space, progress: Progress, *, retry_limit: bool = True
    ) -> SessionGrant:
        """StartSession; at the service's session limit, wait briefly while sessions of ours
        to this space are ending (terminated in the last seconds, or being terminated), since
        the service may count them a little longer. A session we still hold may be ending
        unnoticed too (a killed ssh's relay drains its output for up to two seconds before it
        lets go), so even when ours make up the limit we look again for ``LIMIT_SETTLE``
        seconds before the limit is the answer. A warm spare on the space gives its slot up
        (``retry_limit=False``, a spare's own start, gives up at once instead)."""
        started = time.monotonic()
        while True:
            try:
                return await self._start_once(ws, space, progress)
            except SessionLimitExceeded:
                if not retry_limit:
                    raise
                if self.warm.spare_on(space.arn):
                    await self.warm.drop_space(space.arn)
                waited = time.monotonic() - started
                if waited >= ENDING_GRACE or (
                    waited >= LIMIT_SETTLE and not self._ours_ending(space.arn)
                ):
                    raise
                progress("session", "waiting for sessions that are ending")
                await asyncio.sleep(LIMIT_RETRY)

    async def _start_once(self, ws: Workspace, space: Space, progress: Progress) -> SessionGrant:
        """One StartSession (with the studio client's own not-yet-ready retries). It runs in a
        worker thread that a cancellation cannot stop: when our caller goes away meanwhile (ssh
        killed), the session it grants is terminated as soon as it comes instead of counting
        against the space's limit until the service ends it."""
        call = asyncio.ensure_future(
            ws.run(lambda studio: studio.start_session(space, progress=progress))
        )
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            self.early.terminate_later(ws, call, space.arn, "its caller went away")
            raise

    def _ours_ending(self, space_arn: str) -> bool:
        ending = any(
            m.ending is not None and not m.ending.done()
            for m in self._channels.values()
            if m.space.arn == space_arn
        )
        ended = self._ended_at.get(space_arn, 0.0)
        early = self.early.ending(space_arn)
        return ending or early or (ended > 0.0 and time.monotonic() - ended < ENDING_GRACE)

    # -- SSH over a channel --------------------------------------------------------------------

    async def host_key(
        self, ws: Workspace, space: Space, ssh_host: str, *, progress: Progress = _no_progress
    ) -> str:
        """The key this app run presents, learnt once per app run over a channel of its own,
        and put into our known_hosts under ``ssh_host``'s key alias (on every call: the alias
        of a space can change when another space of the same name appears)."""
        lock = self._host_key_locks.setdefault(space.arn, asyncio.Lock())
        async with lock:
            key = self._host_keys.get(space.arn, space.app_created)
            if key is None:
                managed = await self.open(
                    ws, space, purpose="hostkey", ssh_host=ssh_host, progress=progress
                )
                try:
                    reader, writer = managed.channel.streams()
                    key = await fetch_host_key(reader, writer)
                finally:
                    await self.release(managed)
                self._host_keys.put(space.arn, space.app_created, key)
            # Set before every connection, beside its StartSession: unchanged since the last
            # time (the usual case), one stat here and no worker thread (KeyMemo).
            known = KnownHosts(self._known_hosts, self._key_memo)
            alias = host_key_alias(ssh_host)
            if not known.holds(alias, [key]):
                await asyncio.to_thread(known.set_host_key, alias, key)
            return key

    async def open_ssh(
        self,
        ws: Workspace,
        space: Space,
        *,
        purpose: str,
        ssh_host: str,
        lane: int = 0,
        progress: Progress = _no_progress,
    ) -> tuple[ManagedChannel, asyncssh.SSHClientConnection]:
        """An SSH connection of the daemon's own on a new channel, checked against the key
        learnt over the trusted path; the channel is released if SSH cannot be set up."""
        key = await self.host_key(ws, space, ssh_host, progress=progress)
        managed = await self.open(
            ws, space, purpose=purpose, ssh_host=ssh_host, lane=lane, progress=progress
        )
        try:
            reader, writer = managed.channel.streams()
            ssh = await connect_ssh(reader, writer, known_host_key=key)
        except BaseException:
            await self.release(managed)
            raise
        return managed, ssh

    # -- credentials ---------------------------------------------------------------------------

    async def _warn_before_sign_in_ends(self, ws: Workspace) -> None:
        """Broadcast ``credentials`` {state: "expiring"} ahead of the moment only a sign-in
        renews the credentials (an SSO sign-in without refresh token, an MFA session), once
        per deadline, so the user signs in before a resume would need it."""
        if ws.context.credentials is not None:  # exported: no sign-in of ours renews them
            return
        try:
            deadline = await asyncio.to_thread(sign_in_deadline, ws.context.profile)
        except Exception:
            log.exception("could not tell when the sign-in ends")  # the channel is fine
            return
        if deadline is None or (key := (deadline.profile, deadline.expires_at)) in self._warned:
            return
        left = deadline.expires_at.timestamp() - time.time()
        loop = asyncio.get_running_loop()
        self._warned[key] = loop.call_later(
            max(0.0, left - self._settings.sign_in_warning),
            lambda: loop.create_task(self._broadcast("credentials", deadline.notification())),
        )

    async def _resume_token(self, ws: Workspace, session_id: str) -> str:
        """ResumeSession; when only the user can renew the credentials, say so (a
        ``credentials`` notification the CLI and VS Code turn into "sign in") and keep trying
        until the resume window ends, so a sign-in saves the session instead of losing it."""
        settings = self._settings
        deadline = time.monotonic() + settings.resume_window
        profile = resolve_profile_name(ws.context.profile)
        told = False
        while True:
            try:
                token = await ws.run(lambda studio: studio.resume_session(session_id))
            except CredentialsError as exc:
                if not told:
                    told = True
                    message = (
                        str(exc)
                        if ws.context.credentials is not None  # exported: re-export them
                        else f"the AWS credentials of profile {profile!r} expired and only a "
                        f"new sign-in renews them: {sign_in_hint(ws.context.profile)} ({exc})"
                    )
                    await self._broadcast(
                        "credentials", {"state": "expired", "profile": profile, "message": message}
                    )
                # Ask AWS again once the sign-in state on disk changed (a login, an edited
                # config, the marker `smconnect login` touches), or every recheck period otherwise.
                seen, asked = credential_fingerprint(), time.monotonic()
                while (
                    time.monotonic() - asked < settings.credentials_recheck
                    and credential_fingerprint() == seen
                ):
                    if time.monotonic() + settings.credentials_poll >= deadline:
                        raise
                    await asyncio.sleep(settings.credentials_poll)
                continue
            if told:
                await self._broadcast("credentials", {"state": "valid", "profile": profile})
            return token
