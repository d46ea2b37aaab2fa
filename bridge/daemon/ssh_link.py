"""An SSH connection of the daemon's own on a pool channel, as the services that keep one
(Jupyter, forwards) hold it: is it still usable, and how to let it go."""

from __future__ import annotations

import asyncio
import contextlib

import asyncssh

from bridge.daemon.pool import ChannelPool, ManagedChannel

__all__ = ["drop_link", "link_alive"]


def link_alive(ssh: asyncssh.SSHClientConnection | None, managed: ManagedChannel | None) -> bool:
    """Both the SSH connection and the channel under it are open."""
    return (
        ssh is not None
        and not ssh.is_closed()
        and managed is not None
        and not managed.channel.is_closed
    )


async def drop_link(
    pool: ChannelPool, ssh: asyncssh.SSHClientConnection | None, managed: ManagedChannel | None
) -> None:
    """Close the SSH connection (briefly waiting for it), then release the channel's hold."""
    if ssh is not None:
        ssh.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ssh.wait_closed(), 5.0)
    if managed is not None:
        await pool.release(managed)
