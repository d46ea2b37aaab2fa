"""What the pool holds: a channel's key (``ChannelKey``) and the channel with what
``sessions.status`` reports about it (``ManagedChannel``). Apart from ``pool.py`` so that the
pool's helpers (``warm.py``) name them without importing the pool."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bridge.aws.context import IdentityKey
from bridge.aws.studio_space import Space
from bridge.daemon.workspace import Workspace
from bridge.ssm.transport import DataChannel
from bridge.timestamps import rfc3339

__all__ = ["ChannelKey", "ManagedChannel"]


@dataclass(frozen=True, slots=True)
class ChannelKey:
    """What a channel is for. Channels with equal keys are interchangeable.

    ``identity`` is who started the session (profile or exported-credentials fingerprint,
    region, endpoint: never a secret); ``purpose`` is ``ssh`` (the
    ProxyCommand), ``forward``, ``jupyter`` or ``hostkey``; ``lane`` numbers the parallel
    channels of one striped transfer (0 for everything else).
    """

    identity: IdentityKey
    space_arn: str
    purpose: str
    lane: int = 0


@dataclass(eq=False)
class ManagedChannel:
    """A data channel the pool holds, with what ``sessions.status`` reports about it."""

    id: str
    key: ChannelKey
    space: Space
    ssh_host: str
    session_id: str
    channel: DataChannel
    workspace: Workspace  # whose credentials end the session (TerminateSession)
    opened_at: float = field(default_factory=time.time)
    state: str = "connected"
    holders: int = 1  # ``share`` adds one, ``release`` removes one; closed at zero
    ending: asyncio.Task[None] | None = field(default=None, repr=False)  # close + terminate

    @property
    def purpose(self) -> str:
        return self.key.purpose

    @property
    def alive(self) -> bool:
        return not self.channel.is_closed

    def describe(self) -> dict[str, Any]:
        stats = self.channel.stats
        latency = stats.websocket_latency if stats.websocket_latency is not None else stats.rtt
        return {
            "id": self.id,
            "purpose": self.purpose,
            "space": self.space.name,
            "domain_id": self.space.domain_id,
            "ssh_host": self.ssh_host,
            "session_id": self.session_id,
            "state": ("failed" if self.channel.error else "closed")
            if self.channel.is_closed
            else self.state,
            "opened_at": rfc3339(self.opened_at),
            "bytes_sent": stats.bytes_sent,
            "bytes_received": stats.bytes_received,
            "reconnects": stats.reconnects,
            "retransmissions": stats.retransmissions,
            "latency_ms": round(latency * 1000, 1),
            "identity": self.key.identity.describe(),
        }
