"""``forward.open`` / ``forward.list`` / ``forward.close``: local ports forwarded to a space.

Each forward is an SSH connection of the daemon's own (``ChannelPool.open_ssh``) on a channel of
its own, behind a listener of ours (``forward_link``: only our own user gets in; a remote port
nothing listens on is reported). It lives until closed, until the daemon stops, or, with
``close_with_connection``, until the client that opened it goes away; a space stopped and
started again is reconnected by the next local connection.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from dataclasses import dataclass
from typing import Any

from bridge.aws.studio_space import Space
from bridge.daemon.dispatch import Api
from bridge.daemon.errors import ApiError, local_port_error, remote_access_disabled, translated
from bridge.daemon.forward_link import ForwardLink, Listen
from bridge.daemon.params import ForwardParams
from bridge.daemon.pool import ChannelPool
from bridge.daemon.server import Connection
from bridge.daemon.spaces import SpacesService, progress_to

__all__ = ["ForwardService"]

log = logging.getLogger("smconnect.daemon.forwards")


@dataclass(frozen=True, kw_only=True)
class ForwardCloseParams:
    id: str


class ForwardService:
    def __init__(self, spaces: SpacesService, pool: ChannelPool) -> None:
        self._spaces = spaces
        self._pool = pool
        self._forwards: dict[str, ForwardLink] = {}

    def register(self, api: Api) -> None:
        api.add("forward.open", self.forward_open)
        api.add("forward.list", self.forward_list)
        api.add("forward.close", self.forward_close)

    def busy(self) -> bool:
        return bool(self._forwards)

    def describe(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self._forwards.values()]

    def using(self, space: Space) -> list[str]:
        """The background forwards to ``space`` (``stop`` lists them before it ends them)."""
        return [
            f"background forward {f.id} ({f.describe()['local']} -> {f.remote_host}:{f.remote_port})"
            for f in self._forwards.values()
            if f.space.arn == space.arn
        ]

    async def close(self) -> None:
        for fwd in list(self._forwards.values()):
            await self._close_forward(fwd)

    @translated
    async def forward_open(self, conn: Connection, params: ForwardParams) -> dict[str, Any]:
        ws = self._spaces.workspace(params.context)
        space = await ws.resolve(params.space)
        if space.remote_access != "ENABLED":  # before anything is started (cost-safe)
            raise remote_access_disabled(space.name)
        alias = await self._spaces.alias(ws, space)
        fwd = ForwardLink(
            id="",  # the first channel's id, once there is one (as before: ids stay stable)
            context=params.context,
            space=space,
            ssh_host=alias,
            remote_host=params.remote_host,
            remote_port=params.remote_port,
            spaces=self._spaces,
            pool=self._pool,
        )
        # The local side first: a port in use is refused before any app is started.
        where = Listen(params.local_host, params.local_port, params.unix_socket)
        try:
            await fwd.listen(where)
        except OSError as exc:
            raise _listen_error(where, exc) from None
        try:
            async with fwd.lock:  # a connection arriving now waits for the link
                progress = progress_to(conn, space)
                space = await self._spaces.ensure_running(ws, space, start=True, progress=progress)
                managed, ssh = await self._pool.open_ssh(
                    ws, space, purpose="forward", ssh_host=alias, progress=progress
                )
                fwd.id, fwd.space = managed.id, space
                fwd.adopt(managed, ssh)
        except BaseException:
            await fwd.close()
            raise
        self._forwards[fwd.id] = fwd
        log.info(
            "forward %s: %s -> %s:%s",
            fwd.id,
            fwd.describe()["local"],
            space.ref,
            params.remote_port,
        )
        if params.close_with_connection:
            conn.spawn(self._close_when_gone(fwd))
        return fwd.describe()

    async def _close_when_gone(self, fwd: ForwardLink) -> None:
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

    async def _close_forward(self, fwd: ForwardLink) -> None:
        self._forwards.pop(fwd.id, None)
        await fwd.close()


def _listen_error(where: Listen, exc: OSError) -> ApiError:
    """One line: the place, and the OS's reason without asyncio's wrapping."""
    place = where.unix_socket or (
        f"[{where.host}]:{where.port}" if ":" in where.host else f"{where.host}:{where.port}"
    )
    if exc.errno == errno.EADDRINUSE:
        return ApiError(f"{place} is already in use", kind="local_port")
    if exc.errno is not None:
        return local_port_error(place, OSError(exc.errno, os.strerror(exc.errno)))
    return local_port_error(place, exc)
