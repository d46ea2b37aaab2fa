"""The seams between the control plane and the parts it drives: the agent-side session broker
and the space runtimes. The control plane sees only these small protocols, so it can be tested
with in-process stand-ins while the real ``SessionBroker`` and ``SpaceRuntime`` are wired in by
default (see ``wiring``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

Address = tuple[str, int] | str
"""Where a port inside a space really listens: a TCP (host, port) or a unix socket path."""

Resolver = Callable[[str, int], Address]


@dataclass(frozen=True)
class SessionGrant:
    session_id: str
    token_value: str
    stream_url: str


class SessionUnknown(LookupError):
    """The broker has never heard of this session id."""


class SessionNotResumable(RuntimeError):
    """The session exists but will not take a new token (closed, terminated, timed out)."""


class SessionGateway(Protocol):
    """The agent side of the data channel, as the SSM/SageMaker session APIs need it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def open_port_session(self, resolve: Resolver, port: int) -> SessionGrant: ...

    def resume(self, session_id: str) -> str:
        """A fresh one-time token; raises SessionUnknown or SessionNotResumable."""
        ...

    def terminate(self, session_id: str) -> None:
        """Ends the session; raises SessionUnknown."""
        ...

    def active(self, session_id: str) -> bool:
        """Still counts against the space's session limit: neither terminated nor ended (its
        connection to the target closed, or timed out)."""
        ...


class Runtime(Protocol):
    """What runs in a space while its app is InService (SSH server, Jupyter)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def resolve(self, host: str, port: int) -> Address: ...

    async def last_activity(self) -> float | None:
        """Epoch seconds of the last user activity inside the space (None: none reported)."""
        ...


RuntimeFactory = Callable[[str, str, Path], Runtime]
"""(space_name, app_type, root directory) -> a runtime not yet started."""
