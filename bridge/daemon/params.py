"""The parameters every AWS-touching method shares; the dispatcher builds them (-32602 on a
bad shape) before a handler runs. Method-specific parameters live beside their service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.aws.context import AwsContext, EnvCredentials
from bridge.daemon.rpc import invalid_params

__all__ = ["ContextParams", "ForwardParams", "SpaceParams"]


_CREDENTIAL_FIELDS = frozenset(
    {"access_key_id", "secret_access_key", "session_token", "expiration"}
)


@dataclass(frozen=True, kw_only=True)
class ContextParams:
    """Who the request runs as (docs/design/identity.md): ``credentials`` are the caller's
    exported ones (accepted only on a connection that may carry them: the server checks that
    before any handler runs), ``caller_env`` says the caller sent its own environment's view, so
    the daemon's own is not used."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    credentials: dict[str, Any] | None = field(default=None, repr=False)
    caller_env: bool = False

    def __post_init__(self) -> None:
        given = self.credentials
        if given is None:
            return
        if set(given) - _CREDENTIAL_FIELDS or not all(
            isinstance(given.get(name), str) and given.get(name)
            for name in ("access_key_id", "secret_access_key")
        ):
            raise invalid_params(
                "credentials needs access_key_id and secret_access_key "
                "(and optionally session_token, expiration), all strings"
            )
        if any(v is not None and not isinstance(v, str) for v in given.values()):
            raise invalid_params("credentials values must be strings")

    @property
    def context(self) -> AwsContext:
        credentials = None
        if self.credentials is not None:
            credentials = EnvCredentials(**self.credentials)
        return AwsContext(
            profile=None if credentials else self.profile,
            region=self.region,
            endpoint_url=self.endpoint_url,
            credentials=credentials,
            caller_env=self.caller_env,
        )


@dataclass(frozen=True, kw_only=True)
class SpaceParams(ContextParams):
    space: str


@dataclass(frozen=True, kw_only=True)
class ForwardParams(SpaceParams):
    """``forward.open``: checked here, so a bad port is -32602 before anything runs."""

    remote_port: int
    local_port: int = 0  # 0: any free port
    local_host: str = "127.0.0.1"  # the address to listen on (``--bind``)
    remote_host: str = "127.0.0.1"
    unix_socket: str | None = None  # listen on this 0600 unix socket instead of TCP
    close_with_connection: bool = False  # end the forward when the calling client goes away

    def __post_init__(self) -> None:
        if not 1 <= self.remote_port <= 65535:
            raise invalid_params("remote_port must be from 1 to 65535")
        if not 0 <= self.local_port <= 65535:
            raise invalid_params("local_port must be from 0 to 65535 (0: any free port)")
        if not self.local_host or not self.remote_host:
            raise invalid_params("local_host and remote_host must not be empty")
        if self.unix_socket is not None and not self.unix_socket.startswith("/"):
            raise invalid_params("unix_socket must be an absolute path")
