"""``proxy.open``: the ProxyCommand's way in. The calling connection becomes a raw byte stream
into the space's SSH server, carried by a channel of the pool, until either side ends; or,
with ``fdpass``, the channel waits under a ticket for the proxy to fetch a descriptor bound to
it (``bridge.daemon.fdpass``), and no relay process stays in the data path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.aws.errors import ConfigurationError, CredentialsError, SessionLimitExceeded
from bridge.aws.studio_space import Space
from bridge.daemon.dispatch import Api
from bridge.daemon.early import EarlySession
from bridge.daemon.errors import remote_access_disabled, translated
from bridge.daemon.fdpass import ByteStream, FdPass, SocketStream
from bridge.daemon.params import ContextParams
from bridge.daemon.pool import ChannelPool, ManagedChannel
from bridge.daemon.server import Connection
from bridge.daemon.spaces import SpacesService, progress_to
from bridge.daemon.workspace import Workspace
from bridge.redact import redact

__all__ = ["ProxyParams", "RelayService"]

log = logging.getLogger("smconnect.daemon.relay")

# Failures of an open that say nothing about the space's description: not retried afresh.
_NOT_ABOUT_THE_SPACE = (CredentialsError, ConfigurationError, SessionLimitExceeded)


class _Notified(Protocol):
    """A session's way to its user: the relay's connection, or the passed socket's watcher."""

    async def notify(self, method: str, params: dict[str, Any]) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class ProxyParams(ContextParams):
    host: str
    start: bool = True  # start a stopped space rather than fail
    fdpass: bool = False  # answer a ticket for fd.sock instead of upgrading this connection


class RelayService:
    def __init__(
        self, spaces: SpacesService, pool: ChannelPool, *, description_reuse: float
    ) -> None:
        self._spaces = spaces
        self._pool = pool
        self._description_reuse = description_reuse  # DaemonSettings.description_reuse
        self._relays: set[asyncio.Task[None]] = set()
        # channel id -> (space arn, the relay's connection or the passed socket's watcher):
        # neither gets broadcasts, so what ssh's user must read reaches it by ``notify_space``.
        self._streams: dict[str, tuple[str, _Notified]] = {}
        self.fdpass = FdPass(self._relay_passed, pool.release)

    def register(self, api: Api) -> None:
        api.add("proxy.open", self.proxy_open)

    async def close(self) -> None:
        await self.fdpass.close()
        for task in list(self._relays):
            task.cancel()

    @translated
    async def proxy_open(self, conn: Connection, params: ProxyParams) -> dict[str, Any]:
        """The ProxyCommand: upgrade this connection to a raw stream into the space's SSH."""
        ws = self._spaces.workspace(params.context)
        warm = self._pool.warm.space_for(ws.key, params.host)
        if warm is not None:  # a ready channel: no API call, no dial, no handshake to wait for
            managed = await self._pool.open(
                ws, warm, purpose="ssh", ssh_host=params.host, progress=progress_to(conn, warm)
            )
        else:
            managed = await self._open_cold(conn, ws, params)
        space = managed.space
        answer = {"id": managed.id, "space": space.name, "session_id": managed.session_id}
        if params.fdpass and self.fdpass.listening:
            return {**answer, "ticket": self.fdpass.issue(managed)}
        stream = conn.start_stream()
        task = asyncio.get_running_loop().create_task(self._relay(managed, stream))
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)
        self._streams[managed.id] = (space.arn, conn)
        task.add_done_callback(lambda _: self._streams.pop(managed.id, None))
        return answer

    async def _open_cold(
        self, conn: Connection, ws: Workspace, params: ProxyParams
    ) -> ManagedChannel:
        """A new channel for ``proxy.open``. A description of the space at most
        ``description_reuse`` seconds old (the previous connection's) is used as is, which
        spares this connection its describe calls; if opening on it fails for a cause a newer
        description could change (the app stopped, remote access was turned off meanwhile),
        the space is described afresh and the open tried once more, so a stale guess costs
        time, never a wrong answer. Credentials and the session limit are not about the space:
        those failures are answered at once. When the space must be described and its ARN is
        known, StartSession goes out beside the description (``early.py``)."""
        started = time.monotonic()
        early = self._early_session(ws, params.host)
        try:
            space = await self._spaces.resolve_alias(
                ws, params.host, max_age=self._description_reuse
            )
        except BaseException:
            if early is not None:
                early.discard()
            raise
        if early is not None and not early.fits(space):
            early.discard()  # at once: not running, another space, remote access off
        try:
            return await self._open_on(conn, ws, space, params, early)
        except _NOT_ABOUT_THE_SPACE:
            raise  # a fresh description would fail the same way, only later
        except Exception as exc:
            if not ws.described_before(space, started):
                raise
            log.info(
                "opening on a reused description of %s failed (%s); describing it afresh",
                space.ref,
                redact(str(exc)),
            )
        finally:
            if early is not None:
                early.discard()  # nothing if the pool took it
        space = await self._spaces.resolve_alias(ws, params.host)
        return await self._open_on(conn, ws, space, params)

    def _early_session(self, ws: Workspace, host: str) -> EarlySession | None:
        """StartSession sent now, before the description, when one is coming (nothing held
        from the last ``description_reuse`` seconds) for a host our ssh config names and
        whose ARN is known (``Workspace.known_arn``); otherwise None: today's order."""
        ref = self._spaces.installed_space(ws, host)
        if ref is None or not ws.will_describe(ref, self._description_reuse):
            return None
        arn = ws.known_arn(ref)
        return self._pool.start_early(ws, arn) if arn is not None else None

    async def _open_on(
        self,
        conn: Connection,
        ws: Workspace,
        space: Space,
        params: ProxyParams,
        early: EarlySession | None = None,
    ) -> ManagedChannel:
        if space.remote_access != "ENABLED":  # refuse before starting anything (billable)
            raise remote_access_disabled(space.name)
        progress = progress_to(conn, space)
        space = await self._spaces.ensure_running(ws, space, start=params.start, progress=progress)
        # The app run's host key (learnt over a channel of its own the first time) must be in
        # our known_hosts before ssh gets its channel: both channels open at once.
        host_key = asyncio.ensure_future(
            self._pool.host_key(ws, space, params.host, progress=progress)
        )
        try:
            managed = await self._pool.open(
                ws, space, purpose="ssh", ssh_host=params.host, progress=progress, early=early
            )
        except BaseException:
            host_key.cancel()
            raise
        try:
            await host_key
        except SessionLimitExceeded:
            # One slot short of the limit, the two channels at once need one too many: ssh's
            # gives its slot back and they open one after the other, as they used to.
            await self._pool.release(managed)
        except BaseException:
            await self._pool.release(managed)
            raise
        else:
            return managed
        await self._pool.host_key(ws, space, params.host, progress=progress)
        return await self._pool.open(
            ws, space, purpose="ssh", ssh_host=params.host, progress=progress
        )

    async def notify_space(self, space_arn: str, method: str, params: dict[str, Any]) -> None:
        """A notification to every ssh session of a space: its relay process, or on the
        descriptor path its watcher (``smconnect proxy`` prints a ``space.idle`` message on
        ssh's stderr either way)."""
        for arn, conn in list(self._streams.values()):
            if arn == space_arn:
                await conn.notify(method, params)

    async def _relay_passed(self, managed: ManagedChannel, stream: SocketStream) -> None:
        """``_relay`` for a passed descriptor, its watcher reachable by ``notify_space``."""
        self._streams[managed.id] = (managed.space.arn, stream)
        managed.channel.deliver_to(stream.write_now)  # the read loop writes to ssh directly
        try:
            await self._relay(managed, stream)
        finally:
            managed.channel.deliver_to(None)
            self._streams.pop(managed.id, None)

    async def _relay(self, managed: ManagedChannel, stream: ByteStream) -> None:
        """Copy bytes both ways until either side ends; then release the channel.

        Runs as a task of its own (not the connection's): when the relay's websocket goes away
        the stream reads EOF and this ends by itself, releasing the channel in any case. When
        the space's side ended first and not cleanly, the stream closes with code 4000 and a
        reason naming the cause (``_why_ended``), which ``smconnect proxy`` prints.
        """
        reader, writer = managed.channel.streams()

        async def upstream() -> None:  # ssh -> space
            while data := await stream.read():
                writer.write(data)
                await writer.drain()

        async def downstream() -> None:  # space -> ssh
            while data := await reader.read(65536):
                await stream.write(data)
            # EOF is sent by the caller once it knows the end was clean: ssh would otherwise
            # exit on it and kill the ProxyCommand before the close reason gets there.

        up = asyncio.ensure_future(upstream())
        down = asyncio.ensure_future(downstream())
        error: str | None = None
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if up in done and not down.done():
                # ssh closed its side: let queued output drain briefly, then end the session;
                # the passed socket's watcher hears of the clean end meanwhile.
                await asyncio.gather(self._drain(down, stream), stream.end_clean())
            elif not up.done():
                error = await self._why_ended(managed.workspace, managed)
                if error is None:
                    with contextlib.suppress(Exception):
                        await stream.write_eof()
        except asyncio.CancelledError:
            error = "the smconnect daemon stopped"  # shutdown: not a normal end for ssh
            raise
        finally:
            for task in (up, down):
                task.cancel()
            for task in (up, down):
                with contextlib.suppress(BaseException):
                    await task
            with contextlib.suppress(Exception):
                await stream.close(error)
            await self._pool.release(managed)

    @staticmethod
    async def _drain(down: asyncio.Future[None], stream: ByteStream) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(down), 2.0)
            await stream.write_eof()

    async def _why_ended(self, ws: Workspace, managed: ManagedChannel) -> str | None:
        """Why the space's side ended while ssh was still talking; None for a clean end.

        A channel that failed (resume gave up, credentials expired) says so itself; a channel
        the service closed is looked into: a stopped space is the usual cause, else the reason
        the service gave (its idle session timeout: "Your session timed out due to inactivity
        and has been terminated."). Logged either way, for the fd path, where no relay process
        is left to print it.
        """
        channel = managed.channel
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(channel.wait_closed()), 1.0)
        if channel.error is not None:
            log.warning("relay %s failed: %s", managed.id, channel.error)
            return redact(f"the data channel failed: {channel.error}")
        if not channel.is_closed:
            return None  # the space's SSH server ended the connection: a normal logout
        try:
            ws.forget_spaces()
            space = await ws.resolve(managed.space.ref)
        except Exception as exc:
            return redact(f"the data channel was closed ({exc})")
        if not space.running:
            log.warning("relay %s ended: space %s stopped", managed.id, space.ref)
            return f"space {space.name!r} stopped"
        if channel.service_reason:  # the service ended the session: an idle timeout, say
            log.warning("relay %s ended by the service: %s", managed.id, channel.service_reason)
            return redact(channel.service_reason)  # the proxy prints "the session ended: …"
        return None
