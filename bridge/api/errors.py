"""The one exception hierarchy of the public API, mapped from the daemon's error ``kind``s.

Messages are the CLI's own one-line messages (``bridge.cli.errors.as_cli_error``), so a script
prints what ``smconnect`` would have printed; they are redacted and carry no secret.
"""

from __future__ import annotations

from bridge.cli.errors import as_cli_error
from bridge.daemon.client import CallTimeout, DaemonError, RpcError
from bridge.daemon.client import DaemonUnavailable as _ClientUnavailable
from bridge.redact import redact


class SmconnectError(Exception):
    """Base of everything the API raises; ``str()`` is one line, ``kind`` the daemon's name."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class SpaceNotFound(SmconnectError):
    """No space by that name (or ``domain-id/name``) for this identity and region."""


class AmbiguousSpace(SpaceNotFound):
    """The name exists in several domains: pass ``domain-id/name``."""


class RemoteAccessDisabled(SmconnectError):
    """The space's remote access is off (``smconnect open SPACE`` turns it on)."""


class SpaceNotRunning(SmconnectError):
    """The space's app is stopped and the call was told not to start it."""


class AppStartFailed(SmconnectError):
    """The space's app failed to start, or did not start in time."""


class CredentialsExpired(SmconnectError):
    """AWS credentials missing, invalid or expired; the message says how to sign in."""


class ConfigurationError(SmconnectError):
    """No region, an unknown profile, or an ssh setup smconnect cannot use."""


class ChannelFailed(SmconnectError):
    """The SSM data channel could not be opened or broke."""


class HostKeyMismatch(SmconnectError):
    """The space presented a host key other than the one learnt over the trusted path."""

    @classmethod
    def at(cls, ssh_host: str) -> HostKeyMismatch:
        return cls(
            f"{ssh_host} presented a host key other than the one smconnect learnt for this "
            "start of the space; refusing to connect",
            "host_key_mismatch",
        )


class SessionLimitReached(ChannelFailed):
    """The space already has the service's maximum of active remote sessions."""


class InvalidResponse(SmconnectError):
    """AWS answered a value that breaks the service's documented shape; nothing was used."""


class DaemonUnavailable(SmconnectError):
    """The smconnect daemon could not be reached or started."""


class OperationTimeout(SmconnectError, TimeoutError):
    """The daemon did not answer in time (the space may still be changing state)."""


_KINDS: dict[str, type[SmconnectError]] = {
    "space_not_found": SpaceNotFound,
    "not_found": SpaceNotFound,
    "ambiguous_space": AmbiguousSpace,
    "remote_access_disabled": RemoteAccessDisabled,
    "restart_required": RemoteAccessDisabled,
    "app_not_running": SpaceNotRunning,
    "app_start_failed": AppStartFailed,
    "app_timeout": AppStartFailed,
    "credentials": CredentialsExpired,
    "credentials_rejected": CredentialsExpired,
    "exported_credentials_expired": CredentialsExpired,
    "sign_in_expired": CredentialsExpired,
    "configuration": ConfigurationError,
    "profile_not_found": ConfigurationError,
    "ssh_config": ConfigurationError,
    "channel": ChannelFailed,
    "session_start_failed": ChannelFailed,
    "session_limit": SessionLimitReached,
    "invalid_response": InvalidResponse,
}


def from_daemon(exc: DaemonError) -> SmconnectError:
    """The API's exception for what the daemon client raised, with the CLI's message."""
    cli = as_cli_error(exc)
    message = redact(cli.message if cli is not None else str(exc))
    if isinstance(exc, RpcError):
        return _KINDS.get(exc.kind, SmconnectError)(message, exc.kind)
    if isinstance(exc, CallTimeout):
        return OperationTimeout(message, "timeout")
    if isinstance(exc, _ClientUnavailable):
        return DaemonUnavailable(message, "daemon_unavailable")
    return SmconnectError(message)
