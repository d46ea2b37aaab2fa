"""Checking one value of the emulator's config, each problem located (``domains[0].name: ...``).

Shared by the config file's loader (``config_load``) and the command line's overrides
(``EmulatorConfig.with_overrides``), so a value is held to the same rule wherever it comes
from. ``Fields`` reads one mapping of the file and remembers which keys it used, so an unknown
key (a typo) is refused instead of silently ignored.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AGENT_BURST_MAX",
    "DOMAIN_ID_PATTERN",
    "LATENCY_BOUNDS",
    "NAME_PATTERN",
    "ConfigError",
    "Fields",
    "agent_burst",
    "choice",
    "latency",
    "minute",
    "name",
    "port",
    "session_limit",
    "unique",
]

# botocore's documented patterns, applied with fullmatch (``$`` would accept a trailing "\n").
NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
DOMAIN_ID_PATTERN = re.compile(r"d-(-*[a-z0-9]){1,61}")


class ConfigError(ValueError):
    """A config file or value the emulator cannot use; the message names the offending key."""


# -- typed access to one mapping, remembering which keys were used -----------------------


class Fields:
    """One mapping of the config (the root, a section, an item of a list): each getter checks
    the type of its key, and ``done`` refuses any key no getter asked for."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {_kind(data)}")
        self.data: Mapping[Any, Any] = data
        self.where = where
        self._used: set[str] = set()

    def raw(self, key: str) -> Any:
        self._used.add(key)
        return self.data.get(key)

    def section(self, key: str) -> Fields | None:
        """A nested mapping (None when absent), its errors located under this one."""
        data = self.raw(key)
        return (
            None
            if data is None
            else Fields(data, key if self.where == "config" else f"{self.where}.{key}")
        )

    def text(self, key: str, default: str, *, pattern: re.Pattern[str] | None = None) -> str:
        value = self.opt_str(key, pattern=pattern)
        return default if value is None else value

    def req_str(self, key: str, *, pattern: re.Pattern[str] | None = None) -> str:
        value = self.opt_str(key, pattern=pattern)
        if value is None:
            raise ConfigError(f"{self.where}.{key}: required")
        return value

    def opt_str(self, key: str, *, pattern: re.Pattern[str] | None = None) -> str | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{self.where}.{key}: expected a non-empty string, got {_kind(value)}"
            )
        if pattern is not None and not pattern.fullmatch(value):
            raise ConfigError(f"{self.where}.{key}: {value!r} is not a valid value")
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.where}.{key}: expected an integer, got {_kind(value)}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where}.{key}: expected true or false, got {_kind(value)}")
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{self.where}.{key}: expected seconds (a number >= 0)")
        return float(value)

    def number(self, key: str, default: float) -> float:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.where}.{key}: expected a number, got {_kind(value)}")
        return float(value)

    def items(self, key: str) -> list[Any] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise ConfigError(f"{self.where}.{key}: expected a list, got {_kind(value)}")
        return value

    def timestamp(self, key: str) -> float | None:
        """ISO 8601 text (``2026-01-01T00:00:00Z``), a YAML timestamp, or epoch seconds."""
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool):
            raise ConfigError(f"{self.where}.{key}: expected a timestamp")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ConfigError(
                    f"{self.where}.{key}: {value!r} is not an ISO 8601 time"
                ) from None
        if isinstance(value, _dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=_dt.UTC)
            return value.timestamp()
        raise ConfigError(f"{self.where}.{key}: expected a timestamp, got {_kind(value)}")

    def done(self) -> None:
        unknown = sorted(str(k) for k in self.data if k not in self._used)
        if unknown:
            raise ConfigError(f"{self.where}: unknown key {unknown[0]!r}")


# -- one value ---------------------------------------------------------------------------


def name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ConfigError(
            f"{where}: {value!r} is not a valid name (letters, digits and hyphens, at most 63)"
        )
    return value


def choice(value: str, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def port(value: int, where: str) -> int:
    if not 0 <= value <= 65535:
        raise ConfigError(f"{where}: {value} is not a TCP port (0-65535)")
    return value


def unique(values: Any, where: str) -> None:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ConfigError(f"{where}: {value!r} appears twice")
        seen.add(value)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def session_limit(value: int, where: str) -> int:
    if value < 1:
        raise ConfigError(f"{where}: must be 1 or more")
    return value


def minute(value: float, where: str) -> float:
    if not value > 0:
        raise ConfigError(f"{where}: must be more than 0 seconds")
    return float(value)


LATENCY_BOUNDS = (0.0, 10000.0)  # ms one way: 0 is loopback, 10 s is no link anyone uses


def latency(value: float, where: str) -> float:
    low, high = LATENCY_BOUNDS
    if not low <= value <= high:
        raise ConfigError(f"{where}: {value} ms is outside {low:g}-{high:g}")
    return float(value)


AGENT_BURST_MAX = 32  # the core's rate_burst: more tokens than that never accumulate


def agent_burst(value: int, where: str) -> int:
    if not 1 <= value <= AGENT_BURST_MAX:
        raise ConfigError(f"{where}: {value} is outside 1-{AGENT_BURST_MAX}")
    return value
