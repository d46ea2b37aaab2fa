"""The public Python API (``import smconnect``): spaces from scripts, notebooks and CI.

A client of the local daemon, so it shares its channels, identity handling and resume. The
sync functions work in a plain process and inside a running event loop (Jupyter); ``connect``
is async. paramiko is imported only by the paramiko helpers. Reference: ``docs/api.md``.
"""

from bridge.api.channel import Channel, open_channel
from bridge.api.errors import (
    AmbiguousSpace,
    AppStartFailed,
    ChannelFailed,
    ConfigurationError,
    CredentialsExpired,
    DaemonUnavailable,
    HostKeyMismatch,
    InvalidResponse,
    OperationTimeout,
    RemoteAccessDisabled,
    SessionLimitReached,
    SmconnectError,
    SpaceNotFound,
    SpaceNotRunning,
)
from bridge.api.spaces import Space, SpaceRef, spaces, start, status, stop
from bridge.api.with_asyncssh import connect
from bridge.api.with_paramiko import paramiko_auth, paramiko_client, pin_host_key

__all__ = [
    "AmbiguousSpace",
    "AppStartFailed",
    "Channel",
    "ChannelFailed",
    "ConfigurationError",
    "CredentialsExpired",
    "DaemonUnavailable",
    "HostKeyMismatch",
    "InvalidResponse",
    "OperationTimeout",
    "RemoteAccessDisabled",
    "SessionLimitReached",
    "SmconnectError",
    "Space",
    "SpaceNotFound",
    "SpaceNotRunning",
    "SpaceRef",
    "connect",
    "open_channel",
    "paramiko_auth",
    "paramiko_client",
    "pin_host_key",
    "spaces",
    "start",
    "status",
    "stop",
]
