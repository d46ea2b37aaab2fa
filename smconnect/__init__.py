"""smconnect's public Python API: SageMaker Studio spaces from scripts, notebooks and CI.

Everything here is re-exported from ``bridge.api``; user code imports only this module.
See ``docs/api.md`` and the "Scripting smconnect" section of the user guide.
"""

from bridge import __version__
from bridge.api import (
    AmbiguousSpace,
    AppStartFailed,
    Channel,
    ChannelFailed,
    ConfigurationError,
    CredentialsExpired,
    DaemonUnavailable,
    HostKeyMismatch,
    OperationTimeout,
    RemoteAccessDisabled,
    SmconnectError,
    Space,
    SpaceNotFound,
    SpaceNotRunning,
    SpaceRef,
    connect,
    open_channel,
    paramiko_auth,
    paramiko_client,
    pin_host_key,
    spaces,
    start,
    status,
    stop,
)

__all__ = [
    "AmbiguousSpace",
    "AppStartFailed",
    "Channel",
    "ChannelFailed",
    "ConfigurationError",
    "CredentialsExpired",
    "DaemonUnavailable",
    "HostKeyMismatch",
    "OperationTimeout",
    "RemoteAccessDisabled",
    "SmconnectError",
    "Space",
    "SpaceNotFound",
    "SpaceNotRunning",
    "SpaceRef",
    "__version__",
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
