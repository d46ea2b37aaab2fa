"""``open_channel``: a socket into a space's SSH server, and what pins its host key."""

from __future__ import annotations

import socket
from typing import Self

from bridge.api import _relay
from bridge.api._daemon import LONG_TIMEOUT, Context, call, run_sync
from bridge.api.errors import from_daemon
from bridge.api.spaces import Space, SpaceRef, context_of, find
from bridge.daemon.client import DaemonError

__all__ = ["Channel", "open_channel"]


class Channel(socket.socket):
    """A connected, blocking stream socket whose bytes reach the space's SSH server.

    Use it as paramiko's ``sock=``, Fabric's ``connect_kwargs={"sock": ...}`` or asyncssh's
    ``sock=``; closing it (or the SSH client that owns it) ends the session. ``ssh_host`` is the
    name to connect to and ``host_key`` the key (OpenSSH format) the daemon learnt over the
    trusted path for this start of the space's app: pin it, never auto-add.
    """

    space: Space
    ssh_host: str
    host_key: str

    @classmethod
    def adopt(cls, sock: socket.socket, space: Space, host_key: str) -> Self:
        channel = cls(fileno=sock.detach())
        channel.setblocking(True)
        channel.space = space
        channel.ssh_host = space.ssh_host
        channel.host_key = host_key
        return channel


def open_channel(
    space: SpaceRef,
    *,
    profile: str | None = None,
    region: str | None = None,
    start: bool = True,
    timeout: float = LONG_TIMEOUT,
) -> Channel:
    """A new data channel to ``space``'s SSH server, as a socket (see ``Channel``).

    ``start=False`` raises ``SpaceNotRunning`` for a stopped space instead of starting it; a
    space whose remote access is off raises ``RemoteAccessDisabled``.
    """
    context = context_of(space, profile, region)
    target = run_sync(lambda: find(space, context))
    params = {**context.params(), "host": target.ssh_host, "start": start}
    try:
        sock = _relay.open_socket(params, timeout=timeout)
    except DaemonError as exc:
        raise from_daemon(exc) from None
    try:
        # Running and remote access on by now, so space.open changes nothing: it only answers
        # the key learnt for this app start (if the app restarted meanwhile, SSH refuses).
        current, host_key = run_sync(lambda: _host_key(target, context))
    except BaseException:
        sock.close()
        raise
    return Channel.adopt(sock, current, host_key)


async def _host_key(space: Space, context: Context) -> tuple[Space, str]:
    params = {**context.params(), "space": space.ref, "ssh_config": False}
    result = await call("space.open", params, timeout=LONG_TIMEOUT)
    return Space.from_json(result["space"], context), str(result["host_key"])
