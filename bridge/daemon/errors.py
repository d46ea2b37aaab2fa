"""The daemon API's errors: how lower layers' failures reach a client, with a stable ``kind``.

Clients (the CLI, the proxy, VS Code) branch on ``kind``, never on the message, so every
service raises through here: ``fail`` maps AWS, ssh-config and channel errors; the named
constructors are the errors several services raise alike (one wording each).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from bridge.aws.errors import AwsError
from bridge.daemon.rpc import ApiError
from bridge.ssh.errors import SshConfigError
from bridge.ssm.errors import ChannelError

__all__ = [
    "ApiError",
    "app_not_running",
    "fail",
    "local_port_error",
    "remote_access_disabled",
    "translated",
]


def fail(exc: Exception) -> ApiError:
    """AWS-, ssh-config- and channel-layer errors as API errors with a stable ``kind``."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AwsError):
        return ApiError(str(exc), kind=exc.kind)
    if isinstance(exc, SshConfigError):
        return ApiError(str(exc), kind="ssh_config")
    if isinstance(exc, ChannelError):
        return ApiError(f"the data channel failed: {exc}", kind="channel")
    return ApiError(f"{type(exc).__name__}: {exc}", kind="internal")


_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[Any]])


def translated(handler: _Handler) -> _Handler:
    """Answer any failure of a method as an ``ApiError`` with a stable kind (see ``fail``)."""

    @functools.wraps(handler)
    async def wrapper(*args: Any) -> Any:
        try:
            return await handler(*args)
        except Exception as exc:
            raise fail(exc) from None

    return cast(_Handler, wrapper)


def app_not_running(space: str, *, hint: bool = True) -> ApiError:
    message = f"space {space!r} is not running"
    if hint:
        message += f"; `smconnect start {space}` starts it"
    return ApiError(message, kind="app_not_running")


def remote_access_disabled(space: str) -> ApiError:
    return ApiError(
        f"remote access is disabled for space {space!r}; `smconnect open {space}` enables it",
        kind="remote_access_disabled",
    )


def local_port_error(where: str, exc: OSError) -> ApiError:
    return ApiError(f"cannot listen on {where}: {exc.strerror or exc}", kind="local_port")
