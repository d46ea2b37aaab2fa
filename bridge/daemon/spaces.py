"""The ``spaces.list``, ``space.open``, ``space.start`` and ``space.stop`` methods, and the
space-level steps the other services share: resolve, start if asked, name (ssh alias).

``space.open`` is everything ``smconnect open`` needs before it hands over to ssh or VS Code:
remote access enabled (restarting the app only with the caller's consent), the app running, the
host key learnt over the trusted path (through the channel pool) and the ssh config installed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from bridge.aws.context import AwsContext
from bridge.aws.errors import SpaceNotFound
from bridge.aws.instance_types import check_instance_type
from bridge.aws.pricing import HourlyPrice
from bridge.aws.studio import Progress
from bridge.aws.studio_space import Space
from bridge.daemon.dispatch import Api
from bridge.daemon.errors import ApiError, app_not_running, translated
from bridge.daemon.params import ContextParams, SpaceParams
from bridge.daemon.pool import ChannelPool
from bridge.daemon.server import Connection
from bridge.daemon.workspace import Workspace, Workspaces
from bridge.ssh.aliases import DEFAULT_PREFIX, SpaceRef
from bridge.ssh.command import smconnect_command
from bridge.ssh.config import SshConfig
from bridge.ssh.hosts import HostIdentity
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import (
    ConfigOptions,
    installed_fdpass,
    installed_prefix,
    installed_table,
    names_for,
)
from bridge.timestamps import parse_rfc3339, rfc3339

__all__ = ["REMOTE_HOME", "SpacesService", "progress_to", "space_json"]

REMOTE_HOME = "/home/sagemaker-user"
USE_SETTLE = 3.0  # seconds a just-closed session may take to leave the pool (its relay drains)


@dataclass(frozen=True, kw_only=True)
class ListParams(ContextParams):
    refresh: bool = False
    running: bool = False  # only the spaces whose app is InService


@dataclass(frozen=True, kw_only=True)
class StartParams(SpaceParams):
    instance_type: str | None = None  # switch to it (a running app restarts, with ``restart``)
    restart: bool = False


@dataclass(frozen=True, kw_only=True)
class StopParams(SpaceParams):
    force: bool = False  # stop even with sessions, forwards or kernels open on the space


UsageProbe = Callable[[Space], list[str]]
"""What a service has open on a space, one short human line each (``stop`` lists them)."""


@dataclass(frozen=True, kw_only=True)
class OpenParams(SpaceParams):
    instance_type: str | None = None
    restart: bool = False  # may a running app be restarted to apply remote access / instance type
    ssh_config: bool = True  # install/refresh the ssh config we own


def space_json(space: Space, ssh_host: str, price: HourlyPrice | None = None) -> dict[str, Any]:
    """The one shape of a space in every answer (``spaces.list``, ``space.*``): docs/cli.md.

    ``running_since`` is the app's CreationTime (CreateApp: AWS meters from the instance's
    creation, Pending included), shown while the app is InService. ``idle_shutdown_at`` is a
    projection: the last activity (else the start) plus the idle timeout.
    """
    data = asdict(space)
    data["ref"] = space.ref
    data["ssh_host"] = ssh_host
    if space.app_created is not None:
        data["app_created"] = rfc3339(space.app_created)
    running = space.running and space.app_created is not None
    data["running_since"] = data["app_created"] if running else None
    data["last_activity"] = (
        rfc3339(space.last_activity) if running and space.last_activity else None
    )
    data["idle_shutdown_at"] = None
    if running and space.idle_timeout_minutes is not None:
        since = parse_rfc3339(data["last_activity"] or data["running_since"])
        data["idle_shutdown_at"] = rfc3339(since + timedelta(minutes=space.idle_timeout_minutes))
    data["price_per_hour"] = price.as_float() if price else None
    data["currency"] = price.currency if price else None
    data["price_source"] = ("emulated" if price.emulated else "aws") if price else None
    return data


def progress_to(conn: Connection | None, space: Space) -> Progress:
    """A thread-safe progress callback (for StudioClient) that notifies this connection
    (none: work nobody asked for, such as a lazy rebuild, reports to nobody)."""
    loop = asyncio.get_running_loop()

    def progress(phase: str, message: str) -> None:
        if conn is None:
            return
        params = {"space": space.name, "phase": phase, "message": message}
        loop.call_soon_threadsafe(lambda: conn.spawn(conn.notify("progress", params)))

    return progress


class SpacesService:
    def __init__(
        self,
        workspaces: Workspaces,
        pool: ChannelPool,
        *,
        ssh_paths: SshPaths,
        prefix: str | None = None,
    ) -> None:
        self._workspaces = workspaces
        self._pool = pool
        self._ssh_paths = ssh_paths
        self._fixed_prefix = prefix
        self._usage: list[UsageProbe] = [self._channels_on]

    def add_usage(self, probe: UsageProbe) -> None:
        """Let a service (forwards, Jupyter) say what it has open on a space."""
        self._usage.append(probe)

    def in_use(self, space: Space) -> list[str]:
        """Everything open on ``space`` that stopping it would end."""
        return [line for probe in self._usage for line in probe(space)]

    async def _settled_users(self, space: Space) -> list[str]:
        """``in_use``, after giving a session that just ended the moment its relay takes to
        notice (a client that closed a second ago is not "open")."""
        if space.app_status is None:
            return []
        for _ in range(int(USE_SETTLE / 0.25)):
            if not self.in_use(space):
                return []
            await asyncio.sleep(0.25)
        return self.in_use(space)

    def _channels_on(self, space: Space) -> list[str]:
        """ssh sessions and file transfers (forwards and Jupyter speak for themselves)."""
        what = {"ssh": "ssh session", "transfer": "file transfer"}
        return [
            f"{what[m.purpose]} {m.id} (via {m.ssh_host}, opened {rfc3339(m.opened_at)})"
            for m in self._pool.channels()
            if m.key.space_arn == space.arn and m.alive and m.ending is None and m.purpose in what
        ]

    def register(self, api: Api) -> None:
        api.add("spaces.list", self.list_spaces)
        api.add("space.open", self.open_space)
        api.add("space.start", self.start_space)
        api.add("space.stop", self.stop_space)

    # -- what the other services share ---------------------------------------------------------

    @property
    def prefix(self) -> str:
        """The host prefix in force: the one the installed ssh config uses, else the default."""
        return self._fixed_prefix or installed_prefix(self._ssh_paths) or DEFAULT_PREFIX

    def workspace(self, context: AwsContext) -> Workspace:
        return self._workspaces.get(context)

    def names(self, ws: Workspace, spaces: list[Space]) -> dict[SpaceRef, str]:
        """The ssh host name of each space this identity sees: the one our ssh config gives
        it, derived from the installed host table so that another identity's names are never
        taken (``bridge.ssh.hosts``)."""
        prefix = self.prefix
        table = installed_table(self._ssh_paths, prefix)
        refs = [SpaceRef.of(s) for s in spaces]
        return names_for(refs, HostIdentity.of(ws.context), table, prefix=prefix)

    async def alias(self, ws: Workspace, space: Space) -> str:
        """The space's ssh host name, unambiguous among every identity's hosts."""
        spaces = await ws.spaces()
        name = self.names(ws, spaces).get(SpaceRef.of(space))
        return name or ws.alias(space, spaces, self.prefix)

    async def resolve_alias(self, ws: Workspace, alias: str, *, max_age: float = 0.0) -> Space:
        """The space an ssh host name (as typed, any case) names for this identity: its name in
        our ssh config first, else the plain scheme (``sm-<space>[.<domain>]``). For opening a
        connection: described without the app's activity, and reused when at most ``max_age``
        seconds old (``Workspace.describe``).

        A host of our installed ssh config for this identity names its space outright, so it
        is described without listing every space first (a listing is several round trips, and
        the list is cached for seconds only); a space gone since the install falls through to
        the listing, which says what became of the name."""
        installed = self.installed_space(ws, alias)
        if installed is not None:
            with contextlib.suppress(SpaceNotFound):
                return await ws.describe(
                    installed.domain_id, installed.name, max_age=max_age, activity=False
                )
        for refresh in (False, True):
            spaces = await ws.spaces(refresh=refresh)
            for ref, name in self.names(ws, spaces).items():
                if name.lower() == alias.lower():
                    return await ws.describe(
                        ref.domain_id, ref.name, max_age=max_age, activity=False
                    )
        try:
            return await ws.resolve_alias(alias, self.prefix, max_age=max_age)
        except SpaceNotFound:
            owner = next(
                (
                    e
                    for e in installed_table(self._ssh_paths, self.prefix)
                    if e.alias.lower() == alias.lower()
                ),
                None,
            )
            if owner is None:
                raise
            raise SpaceNotFound(
                f"{alias} is the ssh host of space {owner.space.name!r} for "
                f"{owner.identity.label()}, not for {HostIdentity.of(ws.context).label()}: "
                f"connect as that identity (`ssh {alias}` does)"
            ) from None

    def installed_space(self, ws: Workspace, alias: str) -> SpaceRef | None:
        """The space our installed ssh config gives host ``alias`` for ``ws``'s identity."""
        mine = HostIdentity.of(ws.context)
        for entry in installed_table(self._ssh_paths, self.prefix):
            if entry.alias.lower() == alias.lower() and entry.identity == mine:
                return entry.space
        return None

    async def answer(self, ws: Workspace, space: Space, alias: str | None = None) -> dict[str, Any]:
        """``space_json`` with its hourly price (when it runs and the Price List has one)."""
        alias = alias if alias is not None else await self.alias(ws, space)
        return space_json(space, alias, await ws.price(space))

    async def ensure_running(
        self, ws: Workspace, space: Space, *, start: bool, progress: Progress
    ) -> Space:
        """``space`` with its app running: started (minutes on AWS) if ``start``, else refused."""
        if space.running:
            return space
        if not start:
            raise app_not_running(space.name)
        started = await ws.run(lambda studio: studio.start_app(space, progress=progress))
        self._workspaces.forget_spaces()  # every identity's: the app run changed
        return await ws.resolve(started.ref)

    # -- methods -------------------------------------------------------------------------------

    @translated
    async def list_spaces(self, conn: Connection, params: ListParams) -> dict[str, Any]:
        ws = self.workspace(params.context)
        spaces = await ws.spaces(refresh=params.refresh)
        names = self.names(ws, spaces)
        shown = [s for s in spaces if s.running] if params.running else spaces
        return {
            "spaces": await asyncio.gather(
                *(self.answer(ws, s, names[SpaceRef.of(s)]) for s in shown)
            ),
            # Items AWS described invalidly, left out: one line each, values already escaped.
            "rejected": list(ws.rejected),
        }

    @translated
    async def start_space(self, conn: Connection, params: StartParams) -> dict[str, Any]:
        if params.instance_type:  # before anything is looked up, stopped or started
            check_instance_type(params.instance_type)
        ws = self.workspace(params.context)
        space = await ws.resolve(params.space)
        space = await self._reconfigure(
            conn,
            ws,
            space,
            remote_access=False,
            instance_type=params.instance_type,
            restart=params.restart,
        )
        space = await self.ensure_running(ws, space, start=True, progress=progress_to(conn, space))
        return {"space": await self.answer(ws, space)}

    @translated
    async def stop_space(self, conn: Connection, params: StopParams) -> dict[str, Any]:
        ws = self.workspace(params.context)
        space = await ws.resolve(params.space)
        users = await self._settled_users(space) if not params.force else []
        if users:
            raise ApiError(
                f"space {space.name!r} has {len(users)} open: " + "; ".join(users),
                kind="space_in_use",
                details={"space": space.name, "in_use": users},
            )
        progress = progress_to(conn, space)
        await self._pool.warm.drop_space(space.arn)  # no warm channel into a stopped space
        space = await ws.run(lambda studio: studio.stop_app(space, progress=progress))
        self._workspaces.forget_spaces()  # every identity's: the app run changed
        return {"space": space_json(space, await self.alias(ws, space))}

    @translated
    async def open_space(self, conn: Connection, params: OpenParams) -> dict[str, Any]:
        """Everything ``smconnect open`` needs before it hands over to ssh or VS Code."""
        ws = self.workspace(params.context)
        space = await ws.resolve(params.space)
        progress = progress_to(conn, space)
        if params.instance_type:  # before anything is stopped or started
            check_instance_type(params.instance_type)
        space = await self._reconfigure(
            conn,
            ws,
            space,
            remote_access=True,
            instance_type=params.instance_type,
            restart=params.restart,
        )
        space = await self.ensure_running(ws, space, start=True, progress=progress)
        alias = await self.alias(ws, space)
        await conn.notify(
            "progress",
            {"space": space.name, "phase": "ssh", "message": "waiting for SSH to answer"},
        )
        key = await self._pool.host_key(ws, space, alias, progress=progress)
        if params.ssh_config:
            await self._install_ssh_config(ws, params.context)
        return {
            "space": await self.answer(ws, space, alias),
            "ssh_host": alias,
            "folder_uri": f"vscode-remote://ssh-remote+{alias}{REMOTE_HOME}",
            "host_key": key,
            "rejected": list(ws.rejected),
        }

    async def _reconfigure(
        self,
        conn: Connection,
        ws: Workspace,
        space: Space,
        *,
        remote_access: bool,
        instance_type: str | None,
        restart: bool,
    ) -> Space:
        """Turn remote access on (``remote_access``) and/or switch the instance type; a running
        app restarts to apply, only with the caller's consent (``restart``)."""
        enable = remote_access and space.remote_access != "ENABLED"
        switch = bool(instance_type and instance_type != space.instance_type)
        if not enable and not switch:
            return space
        what = " and ".join(
            w
            for w, needed in (
                ("enable remote access", enable),
                (f"switch to {instance_type}", switch),
            )
            if needed
        )
        if space.app_status in ("InService", "Pending") and not restart:
            raise ApiError(
                f"space {space.name!r} is running; it must restart to {what} "
                "(answer yes, or pass --yes)",
                kind="restart_required",
                details={
                    "reason": "remote_access" if enable else "instance_type",
                    "space": space.name,
                    "instance_type": instance_type,
                },
            )
        message = what.replace("enable", "enabling").replace("switch to", "switching to")
        await conn.notify("progress", {"space": space.name, "phase": "update", "message": message})
        current = space
        space = await ws.run(
            lambda studio: studio.update_settings(
                current,
                remote_access=enable or None,
                instance_type=instance_type if switch else None,
            )
        )
        if space.app_status in ("InService", "Pending"):
            running, progress = space, progress_to(conn, space)
            await ws.run(lambda studio: studio.stop_app(running, progress=progress))
        return await ws.resolve(space.ref)

    async def _install_ssh_config(self, ws: Workspace, context: AwsContext) -> None:
        spaces = await ws.spaces()
        fdpass = installed_fdpass(self._ssh_paths) is not False  # keep a --no-fdpass choice
        options = ConfigOptions(
            smconnect_command=smconnect_command(), prefix=self.prefix, fdpass=fdpass
        )
        config = SshConfig(self._ssh_paths, options)
        refs = [SpaceRef.of(s) for s in spaces]
        await asyncio.to_thread(lambda: config.install(refs, identity=HostIdentity.of(context)))
