"""The daemon's SageMaker logic, exposed as JSON-RPC methods (see docs/design/daemon-methods.md).

The daemon owns every data channel: the ProxyCommand relay, ``smconnect open`` and the VS Code
extension only ask for them. It resumes dropped channels itself (ResumeSession), so the ssh
connection above never notices, and it keeps our known_hosts in step with the key each app run
presents, learnt over the SSM-authenticated channel (the trusted path).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar, cast

import asyncssh

from bridge.aws.credentials import (
    credential_fingerprint,
    resolve_profile_name,
    sign_in_deadline,
    sign_in_hint,
)
from bridge.aws.errors import AwsError, CredentialsError
from bridge.aws.studio import Space
from bridge.daemon import info
from bridge.daemon.dispatch import Api
from bridge.daemon.rpc import ApiError
from bridge.daemon.server import Connection, DaemonServer
from bridge.daemon.stream import RawStream
from bridge.daemon.workspace import AwsContext, Workspace
from bridge.ssh.command import smconnect_command
from bridge.ssh.config import (
    DEFAULT_PREFIX,
    ConfigOptions,
    SshConfig,
    SshConfigError,
    SshPaths,
    host_key_alias,
    installed_prefix,
)
from bridge.ssh.known_hosts import KnownHosts
from bridge.ssh.over_stream import connect_ssh, fetch_host_key
from bridge.ssm.core import CoreConfig
from bridge.ssm.errors import ChannelError
from bridge.ssm.transport import DataChannel, ReconnectEvent, ReconnectPhase, open_channel

log = logging.getLogger("smconnect.daemon.service")

REMOTE_HOME = "/home/sagemaker-user"


# ---- parameters ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContextParams:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    @property
    def context(self) -> AwsContext:
        return AwsContext(profile=self.profile, region=self.region, endpoint_url=self.endpoint_url)


@dataclass(frozen=True, kw_only=True)
class ListParams(ContextParams):
    refresh: bool = False


@dataclass(frozen=True, kw_only=True)
class SpaceParams(ContextParams):
    space: str


@dataclass(frozen=True, kw_only=True)
class OpenParams(SpaceParams):
    instance_type: str | None = None
    restart: bool = False  # may a running app be restarted to apply remote access / instance type
    ssh_config: bool = True  # install/refresh the ssh config we own


@dataclass(frozen=True, kw_only=True)
class ProxyParams(ContextParams):
    host: str
    start: bool = True  # start a stopped space rather than fail


@dataclass(frozen=True, kw_only=True)
class ForwardParams(SpaceParams):
    remote_port: int
    local_port: int = 0
    local_host: str = "127.0.0.1"
    remote_host: str = "127.0.0.1"
    close_with_connection: bool = False  # end the forward when the calling client goes away


@dataclass(frozen=True, kw_only=True)
class ForwardCloseParams:
    id: str


# ---- state -----------------------------------------------------------------------------------


@dataclass(eq=False)
class ManagedChannel:
    """A data channel the daemon holds, with what ``status`` reports about it."""

    id: str
    purpose: str  # "ssh" (ProxyCommand), "forward", "hostkey"
    space: Space
    ssh_host: str
    session_id: str
    channel: DataChannel
    opened_at: float = field(default_factory=time.time)
    state: str = "connected"

    def describe(self) -> dict[str, Any]:
        stats = self.channel.stats
        latency = stats.websocket_latency if stats.websocket_latency is not None else stats.rtt
        return {
            "id": self.id,
            "purpose": self.purpose,
            "space": self.space.name,
            "domain_id": self.space.domain_id,
            "ssh_host": self.ssh_host,
            "session_id": self.session_id,
            "state": ("failed" if self.channel.error else "closed")
            if self.channel.is_closed
            else self.state,
            "opened_at": self.opened_at,
            "bytes_sent": stats.bytes_sent,
            "bytes_received": stats.bytes_received,
            "reconnects": stats.reconnects,
            "retransmissions": stats.retransmissions,
            "latency_ms": round(latency * 1000, 1),
        }


@dataclass(eq=False)
class Forward:
    id: str
    managed: ManagedChannel
    ssh: Any  # asyncssh.SSHClientConnection
    listener: Any  # asyncssh.SSHListener
    local_host: str
    local_port: int
    remote_host: str
    remote_port: int

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "space": self.managed.space.name,
            "local": f"{self.local_host}:{self.local_port}",
            "remote": f"{self.remote_host}:{self.remote_port}",
            "local_port": self.local_port,
            "remote_port": self.remote_port,
            "session": self.managed.describe(),
        }


def space_json(space: Space, ssh_host: str) -> dict[str, Any]:
    data = asdict(space)
    data["ref"] = space.ref
    data["ssh_host"] = ssh_host
    return data


def _fail(exc: Exception) -> ApiError:
    """AWS-, ssh-config- and channel-layer errors as API errors with a stable ``kind``."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AwsError):
        return ApiError(str(exc), kind=exc.kind)
    if isinstance(exc, SshConfigError):
        return ApiError(str(exc), kind="ssh_config")
    if isinstance(exc, ChannelError):
        return ApiError(f"the data channel failed: {exc}", kind="channel")
    return ApiError(f"{type(exc).__name__}: {exc}", kind="internal")


_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[Any]])


def _translated(handler: _Handler) -> _Handler:
    """Answer any failure of a method as an ``ApiError`` with a stable kind (see ``_fail``)."""

    @functools.wraps(handler)
    async def wrapper(*args: Any) -> Any:
        try:
            return await handler(*args)
        except Exception as exc:
            raise _fail(exc) from None

    return cast(_Handler, wrapper)


class SpaceService:
    def __init__(
        self,
        server: DaemonServer,
        *,
        ssh_paths: SshPaths | None = None,
        prefix: str | None = None,
        poll_interval: float | None = None,
    ) -> None:
        self._server = server
        self._ssh_paths = ssh_paths or SshPaths.for_home()
        self._fixed_prefix = prefix
        self._poll_interval = poll_interval or float(os.environ.get("SMCONNECT_POLL_INTERVAL", "5"))
        self._workspaces: dict[AwsContext, Workspace] = {}
        self._channels: dict[str, ManagedChannel] = {}
        self._forwards: dict[str, Forward] = {}
        self._host_keys: dict[tuple[str, str | None], str] = {}
        self._host_key_locks: dict[str, asyncio.Lock] = {}
        self._ids = itertools.count(1)
        self._relays: set[asyncio.Task[None]] = set()
        self._core_config = channel_config()
        # How long a resume waits for the user to sign in: the service keeps an unattached
        # session about this long; and how often it looks for fresh credentials meanwhile.
        self._resume_window = float(os.environ.get("SMCONNECT_RESUME_WINDOW", "600"))
        self._credentials_poll = float(os.environ.get("SMCONNECT_CREDENTIALS_POLL", "1"))
        self._sign_in_warning_ahead = float(os.environ.get("SMCONNECT_SIGN_IN_WARNING", "600"))
        self._warned: dict[Any, asyncio.TimerHandle] = {}
        server.busy = self.busy

    @property
    def _prefix(self) -> str:
        """The host prefix in force: the one the installed ssh config uses, else the default."""
        return self._fixed_prefix or installed_prefix(self._ssh_paths) or DEFAULT_PREFIX

    def busy(self) -> bool:
        return bool(self._channels or self._forwards)

    def register(self, api: Api) -> None:
        api.add("spaces.list", self.list_spaces)
        api.add("space.open", self.open_space)
        api.add("space.start", self.start_space)
        api.add("space.stop", self.stop_space)
        api.add("proxy.open", self.proxy_open)
        api.add("forward.open", self.forward_open)
        api.add("forward.list", self.forward_list)
        api.add("forward.close", self.forward_close)
        api.add("sessions.status", self.sessions_status)

    async def close(self) -> None:
        for timer in self._warned.values():
            timer.cancel()
        for task in list(self._relays):
            task.cancel()
        for fwd in list(self._forwards.values()):
            await self._close_forward(fwd)
        for managed in list(self._channels.values()):
            with contextlib.suppress(Exception):
                await managed.channel.close(timeout=2.0)

    # -- helpers ---------------------------------------------------------------------------

    def _workspace(self, context: AwsContext) -> Workspace:
        if context not in self._workspaces:
            self._workspaces[context] = Workspace(context, poll_interval=self._poll_interval)
        return self._workspaces[context]

    async def _alias(self, ws: Workspace, space: Space) -> str:
        return ws.alias(space, await ws.spaces(), self._prefix)

    @staticmethod
    def _progress(conn: Connection, space: Space) -> Any:
        """A thread-safe progress callback for StudioClient that notifies this connection."""
        loop = asyncio.get_running_loop()

        def progress(phase: str, message: str) -> None:
            params = {"space": space.name, "phase": phase, "message": message}
            loop.call_soon_threadsafe(lambda: conn.spawn(conn.notify("progress", params)))

        return progress

    async def _ensure_running(
        self, conn: Connection, ws: Workspace, space: Space, *, start: bool
    ) -> Space:
        if space.running:
            return space
        if not start:
            raise ApiError(
                f"space {space.name!r} is not running; `smconnect start {space.name}` starts it",
                kind="app_not_running",
            )
        started: Space = await ws.run("start_app", space, progress=self._progress(conn, space))
        ws.forget_spaces()
        return await ws.resolve(started.ref)

    async def _open_channel(
        self, conn: Connection | None, ws: Workspace, space: Space, purpose: str, ssh_host: str
    ) -> ManagedChannel:
        progress = self._progress(conn, space) if conn is not None else (lambda p, m: None)
        grant = await ws.run("start_session", space, progress=progress)
        channel_id = f"{purpose}-{next(self._ids)}"

        async def resume() -> str:
            return await self._resume_token(ws, grant.session_id)

        def on_reconnect(event: ReconnectEvent) -> None:
            managed = self._channels.get(channel_id)
            if managed is not None:
                managed.state = {
                    ReconnectPhase.DROPPED: "reconnecting",
                    ReconnectPhase.RETRYING: "reconnecting",
                    ReconnectPhase.RESUMED: "connected",
                    ReconnectPhase.FAILED: "failed",
                }[event.phase]
            params = {
                "id": channel_id,
                "space": space.name,
                "phase": event.phase.value,
                "attempt": event.attempt,
                "reason": event.reason,
            }
            asyncio.get_running_loop().create_task(self._server.broadcast("session.state", params))

        channel = await open_channel(
            grant.stream_url,
            grant.token_value,
            resume=resume,
            on_reconnect=on_reconnect,
            config=self._core_config,
        )
        try:
            await channel.wait_ready()
        except BaseException:
            await channel.close(timeout=1.0)
            raise
        managed = ManagedChannel(
            id=channel_id,
            purpose=purpose,
            space=space,
            ssh_host=ssh_host,
            session_id=grant.session_id,
            channel=channel,
        )
        self._channels[channel_id] = managed
        log.info("opened %s channel %s to space %s", purpose, channel_id, space.ref)
        if purpose != "hostkey":
            await self._warn_before_sign_in_ends(ws)
        return managed

    async def _warn_before_sign_in_ends(self, ws: Workspace) -> None:
        """Broadcast ``credentials`` {state: "expiring"} ahead of the moment only a sign-in
        renews the credentials (an SSO sign-in without refresh token, an MFA session), once
        per deadline, so the user signs in before a resume would need it."""
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
            max(0.0, left - self._sign_in_warning_ahead),
            lambda: loop.create_task(
                self._server.broadcast("credentials", deadline.notification())
            ),
        )

    async def _resume_token(self, ws: Workspace, session_id: str) -> str:
        """ResumeSession; when only the user can renew the credentials, say so (a
        ``credentials`` notification the CLI and VS Code turn into "sign in") and keep trying
        until the resume window ends, so a sign-in saves the session instead of losing it."""
        deadline = time.monotonic() + self._resume_window
        profile = resolve_profile_name(ws.context.profile)
        told = False
        while True:
            try:
                token: str = await ws.run("resume_session", session_id)
            except CredentialsError as exc:
                if not told:
                    told = True
                    message = (
                        f"the AWS credentials of profile {profile!r} expired and only a new "
                        f"sign-in renews them: {sign_in_hint(ws.context.profile)} ({exc})"
                    )
                    await self._server.broadcast(
                        "credentials", {"state": "expired", "profile": profile, "message": message}
                    )
                # Ask AWS again once the sign-in state on disk changed (a login, an edited
                # config, the marker `smconnect login` touches), or every half minute otherwise.
                seen, asked = credential_fingerprint(), time.monotonic()
                while time.monotonic() - asked < 30.0 and credential_fingerprint() == seen:
                    if time.monotonic() + self._credentials_poll >= deadline:
                        raise
                    await asyncio.sleep(self._credentials_poll)
                continue
            if told:
                await self._server.broadcast("credentials", {"state": "valid", "profile": profile})
            return token

    async def _release(self, managed: ManagedChannel) -> None:
        self._channels.pop(managed.id, None)
        with contextlib.suppress(Exception):
            await managed.channel.close(timeout=5.0)
        log.info("closed channel %s", managed.id)

    async def _open_ssh(
        self, conn: Connection | None, ws: Workspace, space: Space, purpose: str
    ) -> tuple[ManagedChannel, asyncssh.SSHClientConnection]:
        """An SSH connection of the daemon's own on a new channel, checked against the key
        learnt over the trusted path; the channel is released if SSH cannot be set up."""
        alias = await self._alias(ws, space)
        key = await self._refresh_host_key(conn, ws, space, alias)
        managed = await self._open_channel(conn, ws, space, purpose, alias)
        try:
            reader, writer = managed.channel.streams()
            ssh = await connect_ssh(reader, writer, known_host_key=key)
        except BaseException:
            await self._release(managed)
            raise
        return managed, ssh

    async def _refresh_host_key(
        self, conn: Connection | None, ws: Workspace, space: Space, alias: str
    ) -> str:
        """Put the key this app run presents into our known_hosts (once per app run)."""
        cache_key = (space.arn, space.app_created)
        lock = self._host_key_locks.setdefault(space.arn, asyncio.Lock())
        async with lock:
            key = self._host_keys.get(cache_key)
            if key is None:
                managed = await self._open_channel(conn, ws, space, "hostkey", alias)
                try:
                    reader, writer = managed.channel.streams()
                    key = await fetch_host_key(reader, writer)
                finally:
                    await self._release(managed)
                self._host_keys[cache_key] = key
            known = KnownHosts(self._ssh_paths.known_hosts)
            await asyncio.to_thread(known.set_host_key, host_key_alias(alias), key)
            return key

    async def _install_ssh_config(self, ws: Workspace, context: AwsContext) -> None:
        spaces = await ws.spaces()
        command = smconnect_command(
            profile=context.profile, region=context.region, endpoint_url=context.endpoint_url
        )
        options = ConfigOptions(smconnect_command=command, prefix=self._prefix)
        config = SshConfig(self._ssh_paths, options)
        await asyncio.to_thread(config.install, [(s.name, s.domain_id) for s in spaces])

    # -- methods ---------------------------------------------------------------------------

    @_translated
    async def list_spaces(self, conn: Connection, params: ListParams) -> dict[str, Any]:
        ws = self._workspace(params.context)
        spaces = await ws.spaces(refresh=params.refresh)
        return {"spaces": [space_json(s, ws.alias(s, spaces, self._prefix)) for s in spaces]}

    @_translated
    async def start_space(self, conn: Connection, params: SpaceParams) -> dict[str, Any]:
        ws = self._workspace(params.context)
        space = await ws.resolve(params.space)
        space = await self._ensure_running(conn, ws, space, start=True)
        return {"space": space_json(space, await self._alias(ws, space))}

    @_translated
    async def stop_space(self, conn: Connection, params: SpaceParams) -> dict[str, Any]:
        ws = self._workspace(params.context)
        space = await ws.resolve(params.space)
        space = await ws.run("stop_app", space, progress=self._progress(conn, space))
        ws.forget_spaces()
        return {"space": space_json(space, await self._alias(ws, space))}

    @_translated
    async def open_space(self, conn: Connection, params: OpenParams) -> dict[str, Any]:
        """Everything ``smconnect open`` needs before it hands over to ssh or VS Code."""
        ws = self._workspace(params.context)
        space = await ws.resolve(params.space)
        change_instance = bool(params.instance_type and params.instance_type != space.instance_type)
        if space.remote_access != "ENABLED" or change_instance:
            if space.app_status in ("InService", "Pending") and not params.restart:
                what = (
                    "enable remote access"
                    if space.remote_access != "ENABLED"
                    else (f"switch to {params.instance_type}")
                )
                raise ApiError(
                    f"space {space.name!r} is running; it must restart to {what} "
                    "(answer yes, or pass --yes)",
                    kind="restart_required",
                    details={
                        "reason": "remote_access"
                        if space.remote_access != "ENABLED"
                        else "instance_type",
                        "space": space.name,
                        "instance_type": params.instance_type,
                    },
                )
            await conn.notify(
                "progress",
                {"space": space.name, "phase": "update", "message": "enabling remote access"},
            )
            space = await ws.run("enable_remote_access", space, params.instance_type)
            if space.app_status in ("InService", "Pending"):
                await ws.run("stop_app", space, progress=self._progress(conn, space))
            space = await ws.resolve(space.ref)
        space = await self._ensure_running(conn, ws, space, start=True)
        alias = await self._alias(ws, space)
        await conn.notify(
            "progress",
            {"space": space.name, "phase": "ssh", "message": "waiting for SSH to answer"},
        )
        key = await self._refresh_host_key(conn, ws, space, alias)
        if params.ssh_config:
            await self._install_ssh_config(ws, params.context)
        return {
            "space": space_json(space, alias),
            "ssh_host": alias,
            "folder_uri": f"vscode-remote://ssh-remote+{alias}{REMOTE_HOME}",
            "host_key": key,
        }

    @_translated
    async def proxy_open(self, conn: Connection, params: ProxyParams) -> dict[str, Any]:
        """The ProxyCommand: upgrade this connection to a raw stream into the space's SSH."""
        ws = self._workspace(params.context)
        space = await ws.resolve_alias(params.host, self._prefix)
        space = await self._ensure_running(conn, ws, space, start=params.start)
        if space.remote_access != "ENABLED":
            raise ApiError(
                f"remote access is disabled for space {space.name!r}; "
                f"`smconnect open {space.name}` enables it",
                kind="remote_access_disabled",
            )
        await self._refresh_host_key(conn, ws, space, params.host)
        managed = await self._open_channel(conn, ws, space, "ssh", params.host)
        stream = conn.start_stream()
        task = asyncio.get_running_loop().create_task(self._relay(managed, stream))
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)
        return {"id": managed.id, "space": space.name, "session_id": managed.session_id}

    async def _relay(self, managed: ManagedChannel, stream: RawStream) -> None:
        """Copy bytes both ways until either side ends; then release the channel.

        Runs as a task of its own (not the connection's): when the relay's websocket goes away
        the stream reads EOF and this ends by itself, releasing the channel in any case.
        """
        reader, writer = managed.channel.streams()

        async def upstream() -> None:  # ssh -> space
            while data := await stream.read():
                writer.write(data)
                await writer.drain()

        async def downstream() -> None:  # space -> ssh
            while data := await reader.read(65536):
                await stream.write(data)
            await stream.write_eof()

        up = asyncio.ensure_future(upstream())
        down = asyncio.ensure_future(downstream())
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if up in done and not down.done():
                # ssh closed its side: let queued output drain briefly, then end the session.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(down), 2.0)
        finally:
            for task in (up, down):
                task.cancel()
            for task in (up, down):
                with contextlib.suppress(BaseException):
                    await task
            with contextlib.suppress(Exception):
                await stream.close()
            await self._release(managed)

    @_translated
    async def forward_open(self, conn: Connection, params: ForwardParams) -> dict[str, Any]:
        ws = self._workspace(params.context)
        space = await ws.resolve(params.space)
        space = await self._ensure_running(conn, ws, space, start=True)
        managed, ssh = await self._open_ssh(conn, ws, space, "forward")
        try:
            listener = await ssh.forward_local_port(
                params.local_host, params.local_port, params.remote_host, params.remote_port
            )
        except BaseException as exc:
            ssh.close()
            await self._release(managed)
            if isinstance(exc, OSError):
                raise ApiError(
                    f"cannot listen on {params.local_host}:{params.local_port}: "
                    f"{exc.strerror or exc}",
                    kind="local_port",
                ) from None
            raise
        fwd = Forward(
            id=managed.id,
            managed=managed,
            ssh=ssh,
            listener=listener,
            local_host=params.local_host,
            local_port=listener.get_port(),
            remote_host=params.remote_host,
            remote_port=params.remote_port,
        )
        self._forwards[fwd.id] = fwd
        if params.close_with_connection:
            conn.spawn(self._close_when_gone(fwd))
        return fwd.describe()

    async def _close_when_gone(self, fwd: Forward) -> None:
        """Held by the opening connection: cancelled when it ends, which ends the forward."""
        try:
            await asyncio.Event().wait()
        finally:
            if fwd.id in self._forwards:
                await asyncio.shield(self._close_forward(fwd))

    async def forward_list(self, conn: Connection, params: None) -> dict[str, Any]:
        return {"forwards": [f.describe() for f in self._forwards.values()]}

    async def forward_close(self, conn: Connection, params: ForwardCloseParams) -> dict[str, Any]:
        fwd = self._forwards.get(params.id)
        if fwd is None:
            raise ApiError(f"no forward with id {params.id!r}", kind="not_found")
        await self._close_forward(fwd)
        return {"closed": params.id}

    async def _close_forward(self, fwd: Forward) -> None:
        self._forwards.pop(fwd.id, None)
        fwd.listener.close()
        fwd.ssh.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(fwd.ssh.wait_closed(), 5.0)
        await self._release(fwd.managed)

    async def sessions_status(self, conn: Connection, params: None) -> dict[str, Any]:
        return {
            "sessions": [m.describe() for m in self._channels.values() if m.purpose != "hostkey"],
            "forwards": [f.describe() for f in self._forwards.values()],
        }


def channel_config() -> CoreConfig:
    """The data channels' pacing: under the service's ~1000 messages/s by default.

    ``SMCONNECT_CHANNEL_RATE`` (messages per second, or ``unlimited``) exists for the emulator's
    unthrottled mode and for measurements; against AWS, faster pacing gets the channel paused.
    """
    value = os.environ.get("SMCONNECT_CHANNEL_RATE", "").strip().lower()
    if not value:
        return CoreConfig()
    if value in ("unlimited", "none", "0"):
        return CoreConfig(rate_limit=None)
    try:
        return CoreConfig(rate_limit=float(value))
    except ValueError:
        log.warning("ignoring SMCONNECT_CHANNEL_RATE=%r: not a number", value[:40])
        return CoreConfig()


async def setup(server: DaemonServer) -> None:
    """The daemon's ``Setup`` hook: install the SageMaker methods."""
    service = SpaceService(server)
    service.register(server.api)
    info.register(server.api, host_prefix=lambda: service._prefix, remote_home=REMOTE_HOME)
    server.on_shutdown(service.close)
    from bridge.daemon.jupyter import JupyterService  # imports this module: not at the top

    JupyterService(service).register(server.api)
