"""The ``spaces.list``, ``space.open``, ``space.start`` and ``space.stop`` methods, and the
space-level steps the other services share: resolve, start if asked, name (ssh alias).

``space.open`` is everything ``smconnect open`` needs before it hands over to ssh or VS Code:
remote access enabled (restarting the app only with the caller's consent), the app running, the
host key learnt over the trusted path (through the channel pool) and the ssh config installed.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

from bridge.aws.context import AwsContext
from bridge.aws.errors import SpaceNotFound
from bridge.aws.studio import Progress, Space
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
from bridge.timestamps import rfc3339

__all__ = ["REMOTE_HOME", "SpacesService", "progress_to", "space_json"]

REMOTE_HOME = "/home/sagemaker-user"


@dataclass(frozen=True, kw_only=True)
class ListParams(ContextParams):
    refresh: bool = False


@dataclass(frozen=True, kw_only=True)
class OpenParams(SpaceParams):
    instance_type: str | None = None
    restart: bool = False  # may a running app be restarted to apply remote access / instance type
    ssh_config: bool = True  # install/refresh the ssh config we own


def space_json(space: Space, ssh_host: str) -> dict[str, Any]:
    """The one shape of a space in every answer (``spaces.list``, ``space.*``): docs/cli.md."""
    data = asdict(space)
    data["ref"] = space.ref
    data["ssh_host"] = ssh_host
    if space.app_created is not None:
        data["app_created"] = rfc3339(space.app_created)
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

    async def resolve_alias(self, ws: Workspace, alias: str) -> Space:
        """The space an ssh host name (as typed, any case) names for this identity: its name in
        our ssh config first, else the plain scheme (``sm-<space>[.<domain>]``)."""
        for refresh in (False, True):
            spaces = await ws.spaces(refresh=refresh)
            for ref, name in self.names(ws, spaces).items():
                if name.lower() == alias.lower():
                    return await ws.describe(ref.domain_id, ref.name)
        try:
            return await ws.resolve_alias(alias, self.prefix)
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

    async def ensure_running(
        self, ws: Workspace, space: Space, *, start: bool, progress: Progress
    ) -> Space:
        """``space`` with its app running: started (minutes on AWS) if ``start``, else refused."""
        if space.running:
            return space
        if not start:
            raise app_not_running(space.name)
        started = await ws.run(lambda studio: studio.start_app(space, progress=progress))
        ws.forget_spaces()
        return await ws.resolve(started.ref)

    # -- methods -------------------------------------------------------------------------------

    @translated
    async def list_spaces(self, conn: Connection, params: ListParams) -> dict[str, Any]:
        ws = self.workspace(params.context)
        spaces = await ws.spaces(refresh=params.refresh)
        names = self.names(ws, spaces)
        return {
            "spaces": [space_json(s, names[SpaceRef.of(s)]) for s in spaces],
            # Items AWS described invalidly, left out: one line each, values already escaped.
            "rejected": list(ws.rejected),
        }

    @translated
    async def start_space(self, conn: Connection, params: SpaceParams) -> dict[str, Any]:
        ws = self.workspace(params.context)
        space = await ws.resolve(params.space)
        space = await self.ensure_running(ws, space, start=True, progress=progress_to(conn, space))
        return {"space": space_json(space, await self.alias(ws, space))}

    @translated
    async def stop_space(self, conn: Connection, params: SpaceParams) -> dict[str, Any]:
        ws = self.workspace(params.context)
        space = await ws.resolve(params.space)
        progress = progress_to(conn, space)
        space = await ws.run(lambda studio: studio.stop_app(space, progress=progress))
        ws.forget_spaces()
        return {"space": space_json(space, await self.alias(ws, space))}

    @translated
    async def open_space(self, conn: Connection, params: OpenParams) -> dict[str, Any]:
        """Everything ``smconnect open`` needs before it hands over to ssh or VS Code."""
        ws = self.workspace(params.context)
        space = await ws.resolve(params.space)
        progress = progress_to(conn, space)
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
            current, instance_type = space, params.instance_type
            space = await ws.run(lambda studio: studio.enable_remote_access(current, instance_type))
            if space.app_status in ("InService", "Pending"):
                running = space
                await ws.run(lambda studio: studio.stop_app(running, progress=progress))
            space = await ws.resolve(space.ref)
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
            "space": space_json(space, alias),
            "ssh_host": alias,
            "folder_uri": f"vscode-remote://ssh-remote+{alias}{REMOTE_HOME}",
            "host_key": key,
            "rejected": list(ws.rejected),
        }

    async def _install_ssh_config(self, ws: Workspace, context: AwsContext) -> None:
        spaces = await ws.spaces()
        fdpass = installed_fdpass(self._ssh_paths) is not False  # keep a --no-fdpass choice
        options = ConfigOptions(
            smconnect_command=smconnect_command(), prefix=self.prefix, fdpass=fdpass
        )
        config = SshConfig(self._ssh_paths, options)
        refs = [SpaceRef.of(s) for s in spaces]
        await asyncio.to_thread(lambda: config.install(refs, identity=HostIdentity.of(context)))
