"""How a data channel is opened and kept: every tunable of ``open_channel``, spelled once."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from bridge.ssm.core import CoreConfig
from bridge.ssm.readhold import DEFAULT_HOLD

__all__ = ["ChannelOptions", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Reconnect backoff, after the plugin's retryer: random 100-200 ms, doubling, capped."""

    initial_min: float = 0.1
    initial_max: float = 0.2
    max_delay: float = 5.0
    max_attempts: int = 6  # the plugin's MaxAttempts 5 means one try plus five retries

    def delays(self) -> list[float]:
        delay = random.uniform(self.initial_min, self.initial_max)
        out = []
        for _ in range(self.max_attempts):
            out.append(delay)
            delay = min(delay * 2, self.max_delay)
        return out


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """The options of one channel; ``open_channel(..., **overrides)`` takes any of them by name.

    ``ready_timeout`` bounds the whole way to READY (the core's own ``handshake_timeout``
    bounds the wait for HandshakeComplete). ``ping_interval`` None disables keepalive pings;
    ``ping_timeout`` None never drops a connection for a missing pong. ``client_version`` is
    the ClientVersion we report (the agent picks basic port forwarding below 1.1.70); None is
    the core's. ``coalesce`` is the shortest gap between two websocket writes (0 writes every
    batch at once). ``resume_timeout`` bounds one call of ``resume`` (a hung ResumeSession
    fails the channel). ``stream_limit`` is the StreamReader's buffer limit. ``read_hold`` is
    how long reading the websocket pauses after a bulk read while data streams, so the next
    read gathers several messages (``bridge.ssm.readhold``; 0 reads every message as it comes).
    """

    config: CoreConfig | None = None
    open_timeout: float = 10.0
    ready_timeout: float | None = 30.0
    ping_interval: float | None = 120.0
    ping_timeout: float | None = None
    close_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    stream_limit: int = 256 * 1024
    client_version: str | None = None
    coalesce: float = 0.004
    resume_timeout: float = 60.0
    read_hold: float = DEFAULT_HOLD
