"""Every ``SMCONNECT_*`` knob the daemon reads, read once at start-up into a frozen value.

The daemon's behaviour then depends on what it was given, not on what the environment holds
when some code path happens to look: tests build a ``DaemonSettings`` directly (short poll
intervals, a short credential recheck) instead of patching the environment, and every knob
is listed here, with its default and why it exists.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from bridge import paths as daemon_paths

__all__ = [
    "DEFAULT_CHANNEL_RATE",
    "KEEP_ALIVE_MODES",
    "DaemonSettings",
    "channel_rate",
    "keep_alive_mode",
]

KEEP_ALIVE_MODES = ("off", "activity", "always")

DEFAULT_CHANNEL_RATE = 960.0
"""Data messages/s: the channel core's own default, under the service's ~1000 (a test pins it).
Spelled here rather than imported so that the daemon's start-up, which reads these settings
before it holds the lock, imports nothing of the SSM layer."""

log = logging.getLogger("smconnect.daemon.settings")


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonSettings:
    transport: str = "unix"
    """``unix`` (default where available) or ``tcp`` (``SMCONNECT_DAEMON_TRANSPORT``)."""
    idle_timeout: float = daemon_paths.DEFAULT_IDLE_TIMEOUT
    """Seconds with no client and no session before the daemon exits."""
    log_level: str = "INFO"
    poll_interval: float = 5.0
    """How often the Studio client polls an app starting or stopping (``SMCONNECT_POLL_INTERVAL``)."""
    channel_rate: float | None = DEFAULT_CHANNEL_RATE
    """The data channels' pacing in messages/s, None for none (``SMCONNECT_CHANNEL_RATE``)."""
    resume_window: float = 600.0
    """How long a resume waits for the user to sign in: the service keeps an unattached
    session about this long (``SMCONNECT_RESUME_WINDOW``)."""
    credentials_poll: float = 1.0
    """How often a waiting resume looks at the sign-in state on disk (``SMCONNECT_CREDENTIALS_POLL``)."""
    credentials_recheck: float = 30.0
    """How often a waiting resume asks AWS again when nothing on disk changed
    (``SMCONNECT_CREDENTIALS_RECHECK``)."""
    sign_in_warning: float = 600.0
    """Seconds ahead of a sign-in's end that clients are told to sign in (``SMCONNECT_SIGN_IN_WARNING``)."""
    keep_alive: str = "activity"
    """Whose traffic refreshes a space's idle clock: ``off``, ``activity`` (user traffic) or
    ``always`` (any open connection); per space, ``keepalive.set`` overrides it (``SMCONNECT_KEEPALIVE``)."""
    keepalive_interval: float = 60.0
    """Seconds in a minute, for the keep-alive: how often traffic is judged and the heartbeat
    refreshed at most, and how long the idle timeout's minutes last (an emulator's
    ``--minute-seconds``; ``SMCONNECT_KEEPALIVE_INTERVAL``)."""
    keepalive_min_bytes: int = 1024
    """Stream bytes (both ways) in one interval that count as use: ssh's keepalives at
    ``ServerAliveInterval`` 10 s or more stay below (``SMCONNECT_KEEPALIVE_MIN_BYTES``)."""
    idle_warning: float = 10.0
    """Minutes ahead of an idle shutdown that clients are warned (``SMCONNECT_IDLE_WARNING``)."""
    warm_channels: bool = True
    """Keep one ready ssh channel per recently used space, so the next ``ssh`` skips
    StartSession and the handshake; it costs one idle SSM session per space
    (``SMCONNECT_WARM_CHANNELS=on|off``; docs/design/efficiency.md, "Warm channels")."""
    warm_idle: float = 600.0
    """Seconds a space's warm channel outlives the space's last ssh (``SMCONNECT_WARM_IDLE_SECONDS``);
    a spare TLS connection outlives its endpoint's last use as long."""
    spare_dial: bool = True
    """Keep one TLS connection open to a recently used ``wss`` data-channel endpoint, so the
    next cold channel skips TLS's handshake; no SSM session (``SMCONNECT_SPARE_DIAL=on|off``;
    ``bridge/ssm/spare_dial.py``, docs/design/efficiency.md, "A spare TLS connection")."""
    read_hold: float = 0.100
    """Seconds, at most, a data channel stops reading its websocket after a bulk read while
    data streams, so one read gathers several messages; 0 for never (``SMCONNECT_READ_HOLD_MS``,
    in ms; the channel's own default, ``bridge.ssm.readhold.DEFAULT_HOLD``, spelled here for
    the same reason as ``DEFAULT_CHANNEL_RATE``; docs/design/efficiency.md, "A bounded read
    hold")."""
    description_reuse: float = 10.0
    """Seconds a space's description serves the next ssh without describe calls, 0 for never
    (``SMCONNECT_DESCRIPTION_REUSE_SECONDS``; docs/design/proxy.md, "Opening a connection")."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DaemonSettings:
        """The settings the environment asks for; a malformed value keeps its default."""
        env = os.environ if env is None else env
        default = cls()
        return cls(
            transport=daemon_paths.transport_kind(),
            idle_timeout=daemon_paths.idle_timeout(),
            log_level=env.get(daemon_paths.ENV_LOG_LEVEL, "INFO"),
            poll_interval=_seconds(env, "SMCONNECT_POLL_INTERVAL", default.poll_interval),
            channel_rate=channel_rate(env.get("SMCONNECT_CHANNEL_RATE", "")),
            resume_window=_seconds(env, "SMCONNECT_RESUME_WINDOW", default.resume_window),
            credentials_poll=_seconds(env, "SMCONNECT_CREDENTIALS_POLL", default.credentials_poll),
            credentials_recheck=_seconds(
                env, "SMCONNECT_CREDENTIALS_RECHECK", default.credentials_recheck
            ),
            sign_in_warning=_seconds(env, "SMCONNECT_SIGN_IN_WARNING", default.sign_in_warning),
            keep_alive=keep_alive_mode(env.get("SMCONNECT_KEEPALIVE", ""), default.keep_alive),
            keepalive_interval=_seconds(
                env, "SMCONNECT_KEEPALIVE_INTERVAL", default.keepalive_interval
            ),
            keepalive_min_bytes=int(
                _seconds(env, "SMCONNECT_KEEPALIVE_MIN_BYTES", default.keepalive_min_bytes)
            ),
            idle_warning=_seconds(env, "SMCONNECT_IDLE_WARNING", default.idle_warning),
            warm_channels=_switch(env, "SMCONNECT_WARM_CHANNELS", default.warm_channels),
            warm_idle=_seconds(env, "SMCONNECT_WARM_IDLE_SECONDS", default.warm_idle),
            spare_dial=_switch(env, "SMCONNECT_SPARE_DIAL", default.spare_dial),
            read_hold=_seconds_or_never(env, "SMCONNECT_READ_HOLD_MS", default.read_hold * 1000)
            / 1000,
            description_reuse=_seconds_or_never(
                env, "SMCONNECT_DESCRIPTION_REUSE_SECONDS", default.description_reuse
            ),
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        log.warning("ignoring %s=%r: not a number", name, raw[:40])
        return default
    return value if value > 0 else default


def _seconds_or_never(env: Mapping[str, str], name: str, default: float) -> float:
    """``_seconds``, where ``0`` (or ``off``) turns the thing off."""
    return (
        0.0 if env.get(name, "").strip().lower() in ("0", "off") else _seconds(env, name, default)
    )


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("on", "1", "true", "yes"):
        return True
    if raw in ("off", "0", "false", "no"):
        return False
    if raw:
        log.warning("ignoring %s=%r: not on or off", name, raw[:40])
    return default


def keep_alive_mode(raw: str, default: str) -> str:
    """``SMCONNECT_KEEPALIVE``: one of ``KEEP_ALIVE_MODES``; anything else keeps the default."""
    value = raw.strip().lower()
    if not value:
        return default
    if value not in KEEP_ALIVE_MODES:
        log.warning("ignoring SMCONNECT_KEEPALIVE=%r: not one of %s", value[:40], KEEP_ALIVE_MODES)
        return default
    return value


def channel_rate(raw: str) -> float | None:
    """The data channels' pacing: under the service's ~1000 messages/s by default.

    ``SMCONNECT_CHANNEL_RATE`` (messages per second, or ``unlimited``) exists for the emulator's
    unthrottled mode and for measurements; against AWS, faster pacing gets the channel paused.
    """
    value = raw.strip().lower()
    if not value:
        return DEFAULT_CHANNEL_RATE
    if value in ("unlimited", "none", "0"):
        return None
    try:
        return float(value)
    except ValueError:
        log.warning("ignoring SMCONNECT_CHANNEL_RATE=%r: not a number", value[:40])
        return DEFAULT_CHANNEL_RATE
