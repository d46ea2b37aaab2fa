"""``connect``: an asyncssh client connection to a space, the host key checked as the ssh
config checks it (only the key the daemon learnt for this app start is trusted)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncssh

from bridge.api._daemon import LONG_TIMEOUT
from bridge.api.channel import Channel, open_channel
from bridge.api.errors import HostKeyMismatch
from bridge.api.spaces import SpaceRef
from bridge.ssh.over_stream import SSH_USER

__all__ = ["connect"]


@asyncssh.misc.async_context_manager
async def connect(
    space: SpaceRef,
    *,
    profile: str | None = None,
    region: str | None = None,
    start: bool = True,
    timeout: float = LONG_TIMEOUT,
    **options: Any,
) -> asyncssh.SSHClientConnection:
    """``await connect(space)`` or ``async with connect(space) as conn``.

    ``options`` go to ``asyncssh.connect`` (``keepalive_interval``, ...). The channel is opened
    on a worker thread, so the caller's event loop keeps running meanwhile. Your
    ``~/.ssh/config`` is not read (pass ``config=`` to change that).
    """
    channel: Channel = await asyncio.to_thread(
        open_channel, space, profile=profile, region=region, start=start, timeout=timeout
    )
    options.setdefault("config", None)
    options.setdefault("username", SSH_USER)
    known_hosts = asyncssh.import_known_hosts(f"{channel.ssh_host} {channel.host_key}\n")
    try:
        return await asyncssh.connect(
            channel.ssh_host, sock=channel, known_hosts=known_hosts, **options
        )
    except asyncssh.HostKeyNotVerifiable:
        channel.close()
        raise HostKeyMismatch.at(channel.ssh_host) from None
    except BaseException:
        channel.close()
        raise
