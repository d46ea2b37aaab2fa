"""paramiko helpers (the ``smconnect[paramiko]`` extra): paramiko is imported only in here,
and only when one of these runs, so ``import smconnect`` works without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.api._daemon import LONG_TIMEOUT
from bridge.api.channel import Channel, open_channel
from bridge.api.errors import HostKeyMismatch
from bridge.api.spaces import SpaceRef

if TYPE_CHECKING:
    import paramiko
    from paramiko.auth_strategy import AuthStrategy

__all__ = ["paramiko_auth", "paramiko_client", "pin_host_key"]


def pin_host_key(client: paramiko.SSHClient, channel: Channel) -> None:
    """Trust exactly the key the daemon learnt for this app start, under the name connected to,
    and refuse any other (``RejectPolicy``: never ``AutoAddPolicy``). Works on a Fabric
    ``Connection.client`` too, before the connection opens."""
    import paramiko

    entry = paramiko.hostkeys.HostKeyEntry.from_line(f"{channel.ssh_host} {channel.host_key}")
    if entry is None or entry.key is None:
        raise HostKeyMismatch(
            f"the daemon sent an unusable host key for {channel.ssh_host}", "host_key_mismatch"
        )
    client.get_host_keys().add(channel.ssh_host, entry.key.get_name(), entry.key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())


def paramiko_auth() -> AuthStrategy:
    """The space's SSH server asks for no credentials (the SSM session authenticated you):
    an ``auth_strategy`` that offers SSH's "none" method as ``sagemaker-user``."""
    from paramiko.auth_strategy import AuthStrategy, NoneAuth
    from paramiko.config import SSHConfig

    from bridge.ssh.over_stream import SSH_USER

    class _SpaceAuth(AuthStrategy):
        def get_sources(self) -> Any:
            yield NoneAuth(SSH_USER)

    return _SpaceAuth(SSHConfig())


def paramiko_client(
    space: SpaceRef,
    *,
    profile: str | None = None,
    region: str | None = None,
    start: bool = True,
    timeout: float = LONG_TIMEOUT,
    **connect_kwargs: Any,
) -> paramiko.SSHClient:
    """A connected ``paramiko.SSHClient`` to ``space`` over a new channel, host key pinned.

    ``timeout`` bounds opening the channel (a cold app start takes minutes); ``connect_kwargs``
    go to ``SSHClient.connect`` (``banner_timeout``, ``auth_timeout``, ``compress``, ...).
    Close the client (or use it in a ``with``) to end the session.
    """
    import paramiko

    from bridge.ssh.over_stream import SSH_USER

    channel = open_channel(space, profile=profile, region=region, start=start, timeout=timeout)
    client = paramiko.SSHClient()
    try:
        pin_host_key(client, channel)
        client.connect(
            channel.ssh_host,
            username=SSH_USER,
            sock=channel,
            auth_strategy=paramiko_auth(),
            **connect_kwargs,
        )
    except paramiko.BadHostKeyException:
        client.close()
        channel.close()
        raise HostKeyMismatch.at(channel.ssh_host) from None
    except BaseException:
        client.close()
        channel.close()
        raise
    return client
