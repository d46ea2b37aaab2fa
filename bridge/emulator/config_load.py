"""Reading the emulator's config file: JSON or YAML into ``EmulatorConfig``, checked up front.

Every problem is reported with its location (``domains[0].spaces[1].app_type: ...``) so
``smconnect emulator serve`` can print one clear line instead of failing later inside a request
handler. The dataclasses and the demo seed are ``config``; the checks of single values
``config_check``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bridge.emulator import config_check as check
from bridge.emulator.config import (
    APP_TYPES,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_INSTANCE_TYPE,
    DEFAULT_REGION,
    DEFAULT_USER_PROFILE,
    FEATURE_STATUSES,
    IDLE_TIMEOUT_BOUNDS,
    PACINGS,
    SESSION_IDLE_BOUNDS,
    SHARING_TYPES,
    CredentialConfig,
    DelaysConfig,
    DomainConfig,
    EmulatorConfig,
    FaultsConfig,
    LimitsConfig,
    MfaDeviceConfig,
    SpaceConfig,
    TokensConfig,
    default_domains,
)
from bridge.emulator.config_check import ConfigError, Fields

__all__ = ["config_from_mapping", "load_config"]

_ACCESS_KEY = re.compile(r"[A-Z0-9]{16,128}")
_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
_MFA_SERIAL = re.compile(r"arn:aws:iam::[0-9]{12}:mfa/[\w+=,.@/-]+|[A-Z0-9]{9,32}")


def load_config(path: Path | str) -> EmulatorConfig:
    """Read a ``.json``, ``.yaml`` or ``.yml`` file; anything else is tried as YAML (a superset)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    data: Any
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}: invalid YAML{where}") from None
    try:
        return config_from_mapping({} if data is None else data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def config_from_mapping(data: Any) -> EmulatorConfig:
    """Build a config from parsed JSON/YAML. Domains default to the demo seed when absent."""
    root = Fields(data, "config")
    cfg = EmulatorConfig(
        region=root.text("region", DEFAULT_REGION, pattern=_REGION),
        account_id=root.text("account_id", DEFAULT_ACCOUNT_ID, pattern=_ACCOUNT),
        host=root.text("host", "127.0.0.1"),
        port=check.port(root.integer("port", 0), "port"),
        pacing=check.choice(root.text("pacing", "realistic"), PACINGS, "pacing"),
        credentials=_credentials(root),
        domains=_domains(root),
        delays=_delays(root),
        faults=_faults(root),
        tokens=_tokens(root),
        mfa_devices=_mfa_devices(root),
        limits=_limits(root),
        minute_seconds=check.minute(root.number("minute_seconds", 60.0), "minute_seconds"),
        hostile=root.boolean("hostile", False),
        latency_ms=check.latency(root.number("latency_ms", 0.0), "latency_ms"),
        agent_burst=check.agent_burst(root.integer("agent_burst", 16), "agent_burst"),
        tls=root.boolean("tls", False),
    )
    root.done()
    return cfg


def _credentials(root: Fields) -> tuple[CredentialConfig, ...]:
    items = root.items("credentials")
    if items is None:
        return EmulatorConfig().credentials
    if not items:
        raise ConfigError("credentials: needs at least one entry")
    creds = []
    for i, item in enumerate(items):
        obj = Fields(item, f"credentials[{i}]")
        key = obj.req_str("access_key_id", pattern=_ACCESS_KEY)
        cred = CredentialConfig(
            access_key_id=key,
            secret_access_key=obj.req_str("secret_access_key"),
            session_token=obj.opt_str("session_token"),
            expires_at=obj.timestamp("expires_at"),
            arn=obj.opt_str("arn"),
        )
        obj.done()
        creds.append(cred)
    keys = [c.access_key_id for c in creds]
    if len(set(keys)) != len(keys):
        raise ConfigError("credentials: access_key_id values must be unique")
    return tuple(creds)


def _domains(root: Fields) -> tuple[DomainConfig, ...]:
    items = root.items("domains")
    if items is None:
        return default_domains()
    domains = []
    for i, item in enumerate(items):
        obj = Fields(item, f"domains[{i}]")
        domain_id = obj.req_str("id", pattern=check.DOMAIN_ID_PATTERN)
        name = obj.text("name", domain_id)
        profiles_raw = obj.items("user_profiles")
        profiles = tuple(
            check.name(p, f"{obj.where}.user_profiles[{j}]")
            for j, p in enumerate(
                profiles_raw if profiles_raw is not None else [DEFAULT_USER_PROFILE]
            )
        )
        if not profiles:
            raise ConfigError(f"{obj.where}.user_profiles: needs at least one user profile")
        check.unique(profiles, f"{obj.where}.user_profiles")
        spaces = tuple(
            _space(s, f"{obj.where}.spaces[{j}]", profiles)
            for j, s in enumerate(obj.items("spaces") or [])
        )
        check.unique([s.name for s in spaces], f"{obj.where}.spaces")
        idle = _idle_minutes(obj, "idle_timeout_minutes")
        obj.done()
        domains.append(DomainConfig(domain_id, name, profiles, spaces, idle))
    check.unique([d.id for d in domains], "domains")
    return tuple(domains)


def _space(data: Any, where: str, profiles: tuple[str, ...]) -> SpaceConfig:
    obj = Fields(data, where)
    owner = obj.opt_str("owner") or profiles[0]
    if owner not in profiles:
        raise ConfigError(f"{where}.owner: {owner!r} is not a user profile of this domain")
    space = SpaceConfig(
        name=check.name(obj.req_str("name"), f"{where}.name"),
        app_type=check.choice(obj.text("app_type", "JupyterLab"), APP_TYPES, f"{where}.app_type"),
        remote_access=check.choice(
            obj.text("remote_access", "ENABLED"), FEATURE_STATUSES, f"{where}.remote_access"
        ),
        instance_type=obj.text("instance_type", DEFAULT_INSTANCE_TYPE),
        owner=owner,
        sharing=check.choice(obj.text("sharing", "Private"), SHARING_TYPES, f"{where}.sharing"),
        app_running=obj.boolean("app_running", False),
        idle_timeout_minutes=_idle_minutes(obj, "idle_timeout_minutes"),
    )
    obj.done()
    return space


def _limits(root: Fields) -> LimitsConfig:
    obj = root.section("limits")
    if obj is None:
        return LimitsConfig()
    base = LimitsConfig()
    idle = obj.number("session_idle_timeout_minutes", base.session_idle_timeout_minutes)
    low, high = SESSION_IDLE_BOUNDS
    if idle != 0 and not low <= idle <= high:
        raise ConfigError(
            f"limits.session_idle_timeout_minutes: {idle} is outside {low}-{high} (0: never)"
        )
    limits = LimitsConfig(
        sessions_per_space=check.session_limit(
            obj.integer("sessions_per_space", base.sessions_per_space),
            "limits.sessions_per_space",
        ),
        session_idle_timeout_minutes=float(idle),
    )
    obj.done()
    return limits


def _idle_minutes(obj: Fields, key: str) -> int | None:
    value = obj.raw(key)
    if value is None:
        return None
    low, high = IDLE_TIMEOUT_BOUNDS
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{obj.where}.{key}: expected whole minutes from {low} to {high}")
    return value


def _delays(root: Fields) -> DelaysConfig:
    obj = root.section("delays")
    if obj is None:
        return DelaysConfig()
    base = DelaysConfig()
    delays = DelaysConfig(
        app_start=obj.seconds("app_start", base.app_start),
        app_stop=obj.seconds("app_stop", base.app_stop),
        space_update=obj.seconds("space_update", base.space_update),
        start_session_failure_window=obj.seconds(
            "start_session_failure_window", base.start_session_failure_window
        ),
    )
    obj.done()
    return delays


def _tokens(root: Fields) -> TokensConfig:
    obj = root.section("tokens")
    if obj is None:
        return TokensConfig()
    base = TokensConfig()
    values = {name: obj.seconds(name, getattr(base, name)) for name in _TOKEN_FIELDS}
    obj.done()
    if values["device_poll_interval"] <= 0:
        raise ConfigError("tokens.device_poll_interval: must be more than 0")
    return TokensConfig(**values)


_TOKEN_FIELDS = tuple(TokensConfig.__dataclass_fields__)


def _mfa_devices(root: Fields) -> tuple[MfaDeviceConfig, ...]:
    devices = []
    for i, item in enumerate(root.items("mfa_devices") or []):
        obj = Fields(item, f"mfa_devices[{i}]")
        code = obj.raw("code")
        if isinstance(code, int) and not isinstance(code, bool):
            code = f"{code:06d}"  # YAML reads 123456 as a number
        if not isinstance(code, str) or not re.fullmatch(r"[0-9]{6}", code):
            raise ConfigError(f"{obj.where}.code: expected six digits")
        devices.append(MfaDeviceConfig(obj.req_str("serial_number", pattern=_MFA_SERIAL), code))
        obj.done()
    check.unique([d.serial_number for d in devices], "mfa_devices")
    return tuple(devices)


def _faults(root: Fields) -> FaultsConfig:
    obj = root.section("faults")
    if obj is None:
        return FaultsConfig()
    names = obj.items("fail_app_start") or []
    failures = obj.integer("start_session_failures", 0)
    if failures < 0:
        raise ConfigError("faults.start_session_failures: must be 0 or more")
    faults = FaultsConfig(
        fail_app_start=tuple(
            check.name(n, f"faults.fail_app_start[{i}]") for i, n in enumerate(names)
        ),
        start_session_failures=failures,
        deny_pricing=obj.boolean("deny_pricing", False),
    )
    obj.done()
    return faults
