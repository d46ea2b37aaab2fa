"""Keep alive only what is used: the space's idle clock follows its user's traffic, not its
open connections; and clients are warned before an idle shutdown.

SageMaker stops a space's app once its last user activity is older than its idle timeout, and
SSH traffic does not count as activity: only Jupyter's kernels and terminals and the heartbeat
file ``/tmp/.sagemaker-last-active-timestamp`` do. So once per interval (a minute; shorter
against an emulator with ``--minute-seconds``) this service looks at the stream bytes of every
channel the pool holds to each space (ssh through the relay or a passed descriptor, forwards,
the daemon's Jupyter, transfers: the pool's ``bytes_sent``/``bytes_received`` count the
stream's payload, never SSM acks, websocket pings or smux frames) and, when they reach
``keepalive_min_bytes`` (above what ssh's ``ServerAlive`` packets cost in a minute), rewrites
the heartbeat over an SSH connection of its own (purpose ``keepalive``, not counted). A
connection left open with nothing happening lets the space reach its idle timeout.

Modes: ``activity`` (the rule above), ``always`` (any open connection keeps it running), ``off``
(never touch the heartbeat); the daemon's default (``SMCONNECT_KEEPALIVE``) and a per-space
choice (``keepalive.set``, kept in the state directory's ``keep-alive.json``).

While a space has connections, its idle clock (``DescribeApp.LastUserActivityTimestamp`` + the
space's ``IdleTimeoutInMinutes``) is read each interval; once the projected shutdown is within
``idle_warning`` minutes and nothing refreshed the heartbeat lately, every client gets one
``space.idle`` notification per approach; ``keepalive.refresh`` ("Keep running") rewrites the
heartbeat at once. See docs/design/keepalive.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from bridge.aws.context import IdentityKey
from bridge.aws.idle import HEARTBEAT_COMMAND, IdleState
from bridge.aws.studio_space import Space
from bridge.daemon.dispatch import Api
from bridge.daemon.errors import app_not_running, translated
from bridge.daemon.params import SpaceParams
from bridge.daemon.pool import Broadcast, ChannelPool, ManagedChannel
from bridge.daemon.rpc import ApiError, invalid_params
from bridge.daemon.server import Connection
from bridge.daemon.settings import KEEP_ALIVE_MODES, DaemonSettings
from bridge.daemon.spaces import SpacesService
from bridge.daemon.workspace import Workspace
from bridge.paths import write_private_file
from bridge.timestamps import rfc3339

__all__ = ["KeepAliveService", "SetParams"]

log = logging.getLogger("smconnect.daemon.keepalive")

NotifySpace = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""Tell the connections of one space (by ARN) that broadcasts miss: the relay's streams."""

UNCOUNTED = frozenset({"hostkey", "keepalive", "warm"})  # the daemon's own, not a user's
HEARTBEAT_TIMEOUT = 30.0


@dataclass(frozen=True, kw_only=True)
class SetParams(SpaceParams):
    mode: str | None = None  # None or "default": follow the daemon's setting

    def __post_init__(self) -> None:
        if self.mode not in (None, "default", *KEEP_ALIVE_MODES):
            raise invalid_params(f"mode must be one of {', '.join(KEEP_ALIVE_MODES)} or default")


@dataclass(eq=False)
class _Watch:
    """One space with open connections, as the keep-alive follows it."""

    ws: Workspace
    space: Space
    ssh_host: str
    connections: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # channel id -> stream bytes last tick
    traffic_at: float | None = None  # the last interval with user traffic (epoch)
    heartbeat_at: float | None = None  # when we last wrote the heartbeat (epoch)
    idle: IdleState | None = None
    warned: bool = False  # this approach of the shutdown has been announced
    link: tuple[ManagedChannel, asyncssh.SSHClientConnection] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def traffic(self, channels: list[ManagedChannel]) -> int:
        """Stream bytes both ways since the last look (a new channel counts from its start)."""
        total = 0
        seen: dict[str, int] = {}
        for managed in channels:
            stats = managed.channel.stats
            now = stats.bytes_sent + stats.bytes_received
            total += max(0, now - self.seen.get(managed.id, 0))
            seen[managed.id] = now
        self.seen = seen
        self.connections = len(channels)
        return total


class KeepAliveService:
    def __init__(
        self,
        spaces: SpacesService,
        pool: ChannelPool,
        settings: DaemonSettings,
        *,
        broadcast: Broadcast,
        prefs: Path | None = None,
        notify_space: NotifySpace | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._spaces = spaces
        self._pool = pool
        self._settings = settings
        self._broadcast = broadcast
        self._prefs_path = prefs
        self._notify_space = notify_space
        self._clock = clock
        self._watches: dict[tuple[IdentityKey, str], _Watch] = {}
        self._modes: dict[str, str] = _load(prefs)  # space arn -> mode
        self._loop_task: asyncio.Task[None] | None = None
        self._steps: set[asyncio.Task[None]] = set()

    @property
    def minute(self) -> float:
        return self._settings.keepalive_interval

    def register(self, api: Api) -> None:
        api.add("keepalive.status", self.status)
        api.add("keepalive.set", self.set_mode)
        api.add("keepalive.refresh", self.refresh)

    def start(self) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        tasks = [t for t in (self._loop_task, *self._steps) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for watch in list(self._watches.values()):
            await self._unlink(watch)
        self._watches.clear()

    def mode_for(self, space_arn: str) -> str:
        return self._modes.get(space_arn, self._settings.keep_alive)

    # -- the interval --------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.minute)
            try:
                await self.tick()
            except Exception:
                log.exception("keep-alive round failed")

    async def tick(self) -> None:
        """One interval: judge each space's traffic, refresh, look at its idle clock, warn."""
        groups: dict[tuple[IdentityKey, str], list[ManagedChannel]] = {}
        for managed in self._pool.channels():
            if managed.purpose in UNCOUNTED or not managed.alive or managed.ending is not None:
                continue
            groups.setdefault((managed.key.identity, managed.key.space_arn), []).append(managed)
        for key in [k for k in self._watches if k not in groups]:
            await self._unlink(self._watches.pop(key))
        for key, channels in groups.items():
            watch = self._watches.get(key)
            newest = max(channels, key=lambda m: m.opened_at)
            if watch is None:
                watch = _Watch(newest.workspace, newest.space, newest.ssh_host)
                self._watches[key] = watch
            elif watch.space.app_created != newest.space.app_created and not watch.lock.locked():
                # The app restarted under still-open connections: a new run, a new host key.
                watch.space = newest.space
                await self._unlink(watch)
            traffic = watch.traffic(channels)
            if watch.lock.locked():
                continue  # the last round's AWS calls are still running: skip, do not pile up
            task = asyncio.get_running_loop().create_task(self._step(watch, traffic))
            self._steps.add(task)
            task.add_done_callback(self._steps.discard)

    async def _step(self, watch: _Watch, traffic: int) -> None:
        async with watch.lock:
            now = self._clock()
            used = traffic >= self._settings.keepalive_min_bytes
            if used:
                watch.traffic_at = now
            mode = self.mode_for(watch.space.arn)
            due = watch.heartbeat_at is None or now - watch.heartbeat_at >= 0.9 * self.minute
            if due and (mode == "always" or (mode == "activity" and used)):
                await self._touch(watch)
            elif mode == "off":
                await self._unlink(watch)
            await self._look(watch)
            if watch not in self._watches.values():  # its connections ended meanwhile
                await self._unlink(watch)

    async def _touch(self, watch: _Watch) -> bool:
        """Rewrite the space's heartbeat over the daemon's own SSH connection to it."""
        try:
            if watch.link is None or watch.link[0].channel.is_closed:
                await self._unlink(watch)
                watch.link = await self._pool.open_ssh(
                    watch.ws, watch.space, purpose="keepalive", ssh_host=watch.ssh_host
                )
            result = await watch.link[1].run(
                HEARTBEAT_COMMAND, check=False, timeout=HEARTBEAT_TIMEOUT
            )
        except Exception as exc:
            log.warning("could not refresh the heartbeat of space %s: %s", watch.space.ref, exc)
            await self._unlink(watch)
            return False
        if result.exit_status != 0:
            log.warning("the heartbeat command failed in space %s", watch.space.ref)
            return False
        watch.heartbeat_at = self._clock()
        log.debug("refreshed the heartbeat of space %s", watch.space.ref)
        return True

    async def _unlink(self, watch: _Watch) -> None:
        link, watch.link = watch.link, None
        if link is not None:
            link[1].close()
            await self._pool.release(link[0])

    async def _look(self, watch: _Watch) -> None:
        """Read the idle clock; warn once per approach of an idle shutdown."""
        space = watch.space
        try:
            watch.idle = await watch.ws.run(lambda studio: studio.idle_state(space))
        except Exception as exc:
            log.debug("could not read the idle clock of %s: %s", space.ref, exc)
            return
        shutdown = watch.idle.shutdown_at(self.minute) if watch.idle else None
        now = self._clock()
        if shutdown is None or now < shutdown - self._settings.idle_warning * self.minute:
            watch.warned = False
            return
        fresh = watch.heartbeat_at is not None and now - watch.heartbeat_at < 2 * self.minute
        if watch.warned or fresh or now >= shutdown:
            return
        watch.warned = True
        minutes = max(1, round((shutdown - now) / self.minute))
        message = (
            f"space {space.name!r} has had no activity and stops in about {minutes} minute"
            f"{'s' if minutes != 1 else ''} (idle shutdown); use it, or run "
            f"`smconnect keep-alive {space.name} --refresh` to keep it running"
        )
        log.info("warned: %s", message)
        params = {
            "space": space.name,
            "domain_id": space.domain_id,
            "ssh_host": watch.ssh_host,
            "state": "warning",
            "shutdown_at": rfc3339(shutdown),
            "minutes_left": minutes,
            "message": message,
        }
        await self._broadcast("space.idle", params)
        if self._notify_space is not None:
            await self._notify_space(space.arn, "space.idle", params)

    # -- methods -------------------------------------------------------------------------------

    async def status(self, conn: Connection, params: None) -> dict[str, Any]:
        """Every space with open connections, with its keep-alive and idle clock."""
        return {
            "mode": self._settings.keep_alive,
            "interval": self.minute,
            "spaces": [self._describe(w) for w in self._watches.values()],
        }

    def _describe(self, watch: _Watch) -> dict[str, Any]:
        idle = watch.idle
        shutdown = idle.shutdown_at(self.minute) if idle else None
        return {
            "space": watch.space.name,
            "domain_id": watch.space.domain_id,
            "ssh_host": watch.ssh_host,
            "mode": self.mode_for(watch.space.arn),
            "connections": watch.connections,
            "last_traffic": _stamp(watch.traffic_at),
            "heartbeat_at": _stamp(watch.heartbeat_at),
            "running_since": _stamp(idle.running_since if idle else None),
            "last_activity": _stamp(idle.last_activity if idle else None),
            "idle_timeout_minutes": idle.idle_timeout_minutes if idle else None,
            "idle_shutdown_at": _stamp(shutdown),
            "warning": watch.warned,
        }

    @translated
    async def set_mode(self, conn: Connection, params: SetParams) -> dict[str, Any]:
        """A space's own mode (``default``/None: the daemon's), kept across daemon restarts."""
        ws = self._spaces.workspace(params.context)
        space = await ws.resolve(params.space)
        if params.mode in (None, "default"):
            self._modes.pop(space.arn, None)
        else:
            self._modes[space.arn] = params.mode
        await asyncio.to_thread(_save, self._prefs_path, self._modes)
        return {
            "space": space.name,
            "mode": self.mode_for(space.arn),
            "own": self._modes.get(space.arn),
        }

    @translated
    async def refresh(self, conn: Connection, params: SpaceParams) -> dict[str, Any]:
        """ "Keep running": rewrite the heartbeat now, whatever the traffic and the mode."""
        ws = self._spaces.workspace(params.context)
        space = await ws.resolve(params.space)
        if not space.running:
            raise app_not_running(space.name)
        key = (ws.key, space.arn)
        watch = self._watches.get(key)
        temporary = watch is None
        if watch is None:
            watch = _Watch(ws, space, await self._spaces.alias(ws, space))
        async with watch.lock:
            touched = await self._touch(watch)
            if temporary:
                await self._unlink(watch)
        if not touched:
            raise _refresh_failed(space.name)
        return {"space": space.name, "heartbeat_at": _stamp(watch.heartbeat_at)}


def _refresh_failed(space: str) -> ApiError:
    return ApiError(
        f"could not refresh the idle clock of space {space!r} (the daemon log says why)",
        kind="channel",
    )


def _stamp(value: float | None) -> str | None:
    return rfc3339(value) if value is not None else None


def _load(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if v in KEEP_ALIVE_MODES}


def _save(path: Path | None, modes: dict[str, str]) -> None:
    if path is None:
        return
    write_private_file(path, json.dumps(modes, indent=1, sort_keys=True) + "\n")
