"""Errors of the AWS layer. ``str()`` of each is one line a user can act on."""

from __future__ import annotations

from collections.abc import Sequence


class AwsError(Exception):
    """Base of everything the AWS layer raises; ``kind`` is a stable machine-readable name."""

    kind = "aws_error"


class ConfigurationError(AwsError):
    kind = "configuration"


class ProfileNotFound(ConfigurationError):
    """The profile named (``--profile``, ``AWS_PROFILE``) is in no AWS config file."""

    kind = "profile_not_found"


class CredentialsError(AwsError):
    """Missing, invalid or expired credentials; the message says how to sign in."""

    kind = "credentials"


class CredentialsRejected(CredentialsError):
    """AWS does not accept the credentials at all: a wrong secret, an unknown access key."""

    kind = "credentials_rejected"


class ExportedCredentialsExpired(CredentialsError):
    """The session token exported in the caller's shell has expired: only re-exporting helps."""

    kind = "exported_credentials_expired"


class SignInExpired(CredentialsError):
    """The SSO sign-in (or MFA session) of a profile has ended: ``smconnect login`` renews it."""

    kind = "sign_in_expired"


class ApiError(AwsError):
    """An AWS API call failed with an error code we have no better message for."""

    kind = "api_error"

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation} failed: {code}: {message}")
        self.operation = operation
        self.code = code


class SpaceNotFound(AwsError):
    kind = "space_not_found"


class AmbiguousSpace(AwsError):
    kind = "ambiguous_space"

    def __init__(self, name: str, candidates: Sequence[str]) -> None:
        listed = ", ".join(candidates)
        super().__init__(
            f"space {name!r} exists in several domains; name one of: {listed}",
        )
        self.candidates = list(candidates)


class RemoteAccessDisabled(AwsError):
    kind = "remote_access_disabled"


class AppNotRunning(AwsError):
    kind = "app_not_running"


class AppStartFailed(AwsError):
    kind = "app_start_failed"


class AppTimeout(AwsError):
    kind = "app_timeout"


class SessionStartFailed(AwsError):
    kind = "session_start_failed"


class SessionLimitExceeded(AwsError):
    """StartSession answered ResourceLimitExceeded: the space holds as many remote sessions as
    the service allows (about 10 per space), ours or another client's."""

    kind = "session_limit"

    def __init__(self, space: str, limit: int) -> None:
        super().__init__(
            f"space {space!r} already has {limit} active remote sessions (the service's limit); "
            f"close some ssh/VS Code windows, or `smconnect stop {space}` to end them all"
        )
        self.space = space
        self.limit = limit
