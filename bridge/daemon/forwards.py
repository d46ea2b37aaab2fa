"""``forward.open`` / ``forward.list`` / ``forward.close``: local ports forwarded to a space.

Each forward is an SSH connection of the daemon's own (``ChannelPool.open_ssh``) on a channel of
its own, with an asyncssh local listener; it lives until closed, until the daemon stops, or,
with ``close_with_connection``, until the client that opened it goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import asyncssh

from bridge.daemon.dispatch import Api
from bridge.daemon.errors import ApiError, local_port_error, translated
from bridge.daemon.params import SpaceParams
from bridge.daemon.pool import ChannelPool, ManagedChannel
from bridge.daemon.server import Connection
from bridge.daemon.spaces import SpacesService, progress_to

__all__ = ["Forward", "ForwardService"]


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


@dataclass(eq=False)
class Forward:
    id: str
    managed: ManagedChannel
    ssh: asyncssh.SSHClientConnection
    listener: asyncssh.SSHListener
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


class ForwardService:
    def __init__(self, spaces: SpacesService, pool: ChannelPool) -> None:
        self._spaces = spaces
        self._pool = pool
        self._forwards: dict[str, Forward] = {}

    def register(self, api: Api) -> None:
        api.add("forward.open", self.forward_open)
        api.add("forward.list", self.forward_list)
        api.add("forward.close", self.forward_close)

    def busy(self) -> bool:
        return bool(self._forwards)

    def describe(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self._forwards.values()]

    async def close(self) -> None:
        for fwd in list(self._forwards.values()):
            await self._close_forward(fwd)

    @translated
    async def forward_open(self, conn: Connection, params: ForwardParams) -> dict[str, Any]:
        ws = self._spaces.workspace(params.context)
        space = await ws.resolve(params.space)
        progress = progress_to(conn, space)
        space = await self._spaces.ensure_running(ws, space, start=True, progress=progress)
        alias = await self._spaces.alias(ws, space)
        managed, ssh = await self._pool.open_ssh(
            ws, space, purpose="forward", ssh_host=alias, progress=progress
        )
        try:
            listener = await ssh.forward_local_port(
                params.local_host, params.local_port, params.remote_host, params.remote_port
            )
        except BaseException as exc:
            ssh.close()
            await self._pool.release(managed)
            if isinstance(exc, OSError):
                raise local_port_error(f"{params.local_host}:{params.local_port}", exc) from None
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
        return {"forwards": self.describe()}

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
        await self._pool.release(fwd.managed)
