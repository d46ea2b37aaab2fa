"""``proxy.open``: the ProxyCommand's way in. The calling connection becomes a raw byte stream
into the space's SSH server, carried by a channel of the pool, until either side ends; or,
with ``fdpass``, the channel waits under a ticket for the proxy to fetch a descriptor bound to
it (``bridge.daemon.fdpass``), and no relay process stays in the data path.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from bridge.daemon.dispatch import Api
from bridge.daemon.errors import remote_access_disabled, translated
from bridge.daemon.fdpass import ByteStream, FdPass
from bridge.daemon.params import ContextParams
from bridge.daemon.pool import ChannelPool, ManagedChannel
from bridge.daemon.server import Connection
from bridge.daemon.spaces import SpacesService, progress_to

__all__ = ["ProxyParams", "RelayService"]


@dataclass(frozen=True, kw_only=True)
class ProxyParams(ContextParams):
    host: str
    start: bool = True  # start a stopped space rather than fail
    fdpass: bool = False  # answer a ticket for fd.sock instead of upgrading this connection


class RelayService:
    def __init__(self, spaces: SpacesService, pool: ChannelPool) -> None:
        self._spaces = spaces
        self._pool = pool
        self._relays: set[asyncio.Task[None]] = set()
        self.fdpass = FdPass(self._relay, pool.release)

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
        space = await ws.resolve_alias(params.host, self._spaces.prefix)
        progress = progress_to(conn, space)
        space = await self._spaces.ensure_running(ws, space, start=params.start, progress=progress)
        if space.remote_access != "ENABLED":
            raise remote_access_disabled(space.name)
        await self._pool.host_key(ws, space, params.host, progress=progress)
        managed = await self._pool.open(
            ws, space, purpose="ssh", ssh_host=params.host, progress=progress
        )
        answer = {"id": managed.id, "space": space.name, "session_id": managed.session_id}
        if params.fdpass and self.fdpass.listening:
            return {**answer, "ticket": self.fdpass.issue(managed)}
        stream = conn.start_stream()
        task = asyncio.get_running_loop().create_task(self._relay(managed, stream))
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)
        return answer

    async def _relay(self, managed: ManagedChannel, stream: ByteStream) -> None:
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
            await self._pool.release(managed)
