"""Warm channels: one ready ssh channel per recently used space, so the next ``ssh`` skips
StartSession, the websocket dial and the data-channel handshake (several round trips each on a
long link; docs/design/efficiency.md, "Warm channels").

After an ssh channel to a space is opened, the pool asks ``WarmChannels`` to keep a spare for
that space and identity: it is opened in the background under purpose ``warm`` and handed out
by the next ``open`` of an ssh channel with the same identity and space, which then starts the
next spare. A spare is dropped when the space went unused for ``warm_idle`` seconds, when the
space is stopped, when opening one fails (credentials, the session limit: it is a
convenience, never worth an error), and at daemon shutdown. It is replaced every
``WARM_REFRESH`` seconds, before the space's SSH server gives up on a connection that never
logs in (OpenSSH's LoginGraceTime is 120 s).

The cost: one idle SSM session per warm space, listed in Session Manager's history and counted
against the service's limit of sessions per space; a spare is never opened when it would take
the last free slot. ``SMCONNECT_WARM_CHANNELS=off`` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from bridge.aws.context import IdentityKey
from bridge.aws.studio_space import Space
from bridge.daemon.channels import ChannelKey, ManagedChannel
from bridge.daemon.workspace import Workspace

__all__ = ["SESSIONS_PER_SPACE", "WARM_REFRESH", "WarmChannels"]

log = logging.getLogger("smconnect.daemon.warm")

WARM_REFRESH = 90.0  # seconds: under sshd's LoginGraceTime (120 s) for a connection never used
SESSIONS_PER_SPACE = 10  # the service's limit of concurrent sessions per space


class Pool(Protocol):
    """What warm channels need of the ``ChannelPool`` (which holds them as ``pool.warm``)."""

    def find_space(self, space_arn: str) -> list[ManagedChannel]: ...

    async def open(
        self, ws: Workspace, space: Space, *, purpose: str, ssh_host: str, retry_limit: bool
    ) -> ManagedChannel: ...

    async def release(self, managed: ManagedChannel) -> None: ...


class WarmChannels:
    def __init__(self, pool: Pool, *, idle: float, enabled: bool = True) -> None:
        self._pool = pool
        self._idle = idle
        self.enabled = enabled
        self._spares: dict[ChannelKey, ManagedChannel] = {}
        self._last_use: dict[ChannelKey, float] = {}
        self._opening: dict[ChannelKey, asyncio.Task[None]] = {}
        self._timers: dict[ChannelKey, asyncio.TimerHandle] = {}
        self._expiring: set[asyncio.Task[None]] = set()

    def take(self, key: ChannelKey) -> ManagedChannel | None:
        """The ready spare for ``key`` (an ssh key), now the caller's; None when there is none."""
        spare = self._spares.pop(key, None)
        self._cancel_timer(key)
        if spare is None or not spare.alive or spare.ending is not None:
            return None
        return spare

    def used(self, ws: Workspace, space: Space, key: ChannelKey, ssh_host: str) -> None:
        """An ssh channel to ``space`` was just opened: start its next spare in the background."""
        if not self.enabled or space.app_status != "InService":
            return
        self._last_use[key] = time.monotonic()
        if key not in self._spares:
            self._refresh(ws, space, key, ssh_host)

    def space_for(self, identity: IdentityKey, ssh_host: str) -> Space | None:
        """The space a ready spare of ``identity`` reaches under ``ssh_host`` (as first typed):
        the ProxyCommand takes it without describing the space again, since a live channel
        proves the app InService and its host key was learnt when the spare's space was."""
        for key, spare in self._spares.items():
            live = spare.alive and spare.ending is None
            if live and key.identity == identity and spare.ssh_host.lower() == ssh_host.lower():
                return spare.space
        return None

    def spare_on(self, space_arn: str) -> bool:
        return any(k.space_arn == space_arn for k in self._spares)

    async def drop_space(self, space_arn: str) -> None:
        """The space is stopping (or at its session limit): end its spares, open none."""
        for key in [k for k in self._opening if k.space_arn == space_arn]:
            self._opening[key].cancel()
        for key in [k for k in self._spares if k.space_arn == space_arn]:
            self._last_use.pop(key, None)
            await self._drop(key)

    async def close(self) -> None:
        for task in [*self._opening.values(), *self._expiring]:
            task.cancel()
        for key in list(self._spares):
            await self._drop(key)

    async def _open(self, ws: Workspace, space: Space, key: ChannelKey, ssh_host: str) -> None:
        ours = sum(1 for m in self._pool.find_space(space.arn) if m.ending is None)
        if ours + 2 > SESSIONS_PER_SPACE:  # the spare plus one slot left for anyone else
            log.info("no warm channel for %s: it would take the last free session", space.ref)
            return
        try:
            spare = await self._pool.open(
                ws, space, purpose="warm", ssh_host=ssh_host, retry_limit=False
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a convenience: the next ssh opens its own channel
            log.info("no warm channel for %s: %s", space.ref, exc)
            return
        if not self.enabled:
            await self._pool.release(spare)
            return
        self._spares[key] = spare
        self._schedule(ws, space, key, ssh_host)

    def _schedule(self, ws: Workspace, space: Space, key: ChannelKey, ssh_host: str) -> None:
        """Drop the spare when the space went idle, or replace it before the server drops it."""
        idle_left = self._last_use.get(key, 0.0) + self._idle - time.monotonic()
        loop = asyncio.get_running_loop()

        # the reason is fixed now: a timer may fire a hair early (asyncio runs a handle within
        # its clock resolution), so "is the space still in use?" must not be asked again then
        refresh = idle_left > WARM_REFRESH

        def expire() -> None:
            self._timers.pop(key, None)
            task = loop.create_task(self._expire(ws, space, key, ssh_host, refresh=refresh))
            self._expiring.add(task)
            task.add_done_callback(self._expiring.discard)

        self._cancel_timer(key)
        self._timers[key] = loop.call_later(max(0.0, min(idle_left, WARM_REFRESH)), expire)

    async def _expire(
        self, ws: Workspace, space: Space, key: ChannelKey, ssh_host: str, *, refresh: bool
    ) -> None:
        """Replace the spare (``refresh``: it is old) or end it (the space went idle); the
        space's last use cannot change meanwhile, as only taking the spare records a use."""
        await self._drop(key)
        if refresh:
            self._refresh(ws, space, key, ssh_host)
        else:
            self._last_use.pop(key, None)

    def _refresh(self, ws: Workspace, space: Space, key: ChannelKey, ssh_host: str) -> None:
        if key in self._opening or not self.enabled:
            return
        task = asyncio.get_running_loop().create_task(self._open(ws, space, key, ssh_host))
        self._opening[key] = task
        task.add_done_callback(lambda _: self._opening.pop(key, None))

    async def _drop(self, key: ChannelKey) -> None:
        self._cancel_timer(key)
        spare = self._spares.pop(key, None)
        if spare is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(spare)

    def _cancel_timer(self, key: ChannelKey) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
