"""The emulator's configuration: typed dataclasses, a JSON/YAML loader and the default seed.

A config file is checked up front and every problem is reported with its location
(``domains[0].spaces[1].app_type: ...``) so ``smconnect emulator serve`` can print one clear line
instead of failing later inside a request handler.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_ACCESS_KEY_ID = "AKIAEMULATOR00000001"
# A well-known local-only secret, like moto's "testing": it guards nothing real.
DEFAULT_SECRET_ACCESS_KEY = "smconnectEmulatorSecretAccessKey00000000"  # noqa: S105
DEFAULT_DOMAIN_ID = "d-emulator00001"
DEFAULT_DOMAIN_NAME = "smconnect-demo"
DEFAULT_USER_PROFILE = "default-user"
DEFAULT_INSTANCE_TYPE = "ml.t3.large"

APP_TYPES = ("JupyterLab", "CodeEditor")
FEATURE_STATUSES = ("ENABLED", "DISABLED")
SHARING_TYPES = ("Private", "Shared")
PACINGS = ("realistic", "unthrottled")

# botocore's documented patterns, applied with fullmatch (``$`` would accept a trailing "\n").
NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
DOMAIN_ID_PATTERN = re.compile(r"d-(-*[a-z0-9]){1,61}")
_NAME = NAME_PATTERN
_DOMAIN_ID = DOMAIN_ID_PATTERN
_ACCESS_KEY = re.compile(r"[A-Z0-9]{16,128}")
_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
_MFA_SERIAL = re.compile(r"arn:aws:iam::[0-9]{12}:mfa/[\w+=,.@/-]+|[A-Z0-9]{9,32}")


class ConfigError(ValueError):
    """A config file or value the emulator cannot use; the message names the offending key."""


@dataclass(frozen=True)
class CredentialConfig:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expires_at: float | None = None  # epoch seconds; after it the key answers ExpiredToken
    arn: str | None = None  # GetCallerIdentity's Arn; defaults to an IAM user in the account


@dataclass(frozen=True)
class SpaceConfig:
    name: str
    app_type: str = "JupyterLab"
    remote_access: str = "ENABLED"
    instance_type: str = DEFAULT_INSTANCE_TYPE
    owner: str | None = None  # a user profile of the domain; defaults to the first one
    sharing: str = "Private"
    app_running: bool = False  # seed the space with its app already InService
    idle_timeout_minutes: int | None = None  # IdleSettings (ENABLED); None: the domain's default


@dataclass(frozen=True)
class DomainConfig:
    id: str
    name: str
    user_profiles: tuple[str, ...]
    spaces: tuple[SpaceConfig, ...]
    idle_timeout_minutes: int | None = None  # DefaultSpaceSettings' IdleSettings; None: off


@dataclass(frozen=True)
class DelaysConfig:
    """Seconds. The real service takes minutes; the defaults keep a demo snappy but visible."""

    app_start: float = 3.0  # CreateApp: Pending -> InService
    app_stop: float = 2.0  # DeleteApp: Deleting -> Deleted
    space_update: float = 1.0  # UpdateSpace: Updating -> InService
    start_session_failure_window: float = 2.0  # StartSession answers InternalFailure this long


@dataclass(frozen=True)
class TokensConfig:
    """Seconds. How long what the emulator issues stays valid; tests shorten them to seconds so
    credentials expire in the middle of a session."""

    sso_access_token: float = 28800.0  # sso-oidc CreateToken's accessToken (expiresIn)
    sso_refresh_token: float = 7776000.0  # the refreshToken that comes with it (90 days)
    sso_client_registration: float = 7776000.0  # RegisterClient's clientSecretExpiresAt
    device_code: float = 600.0  # StartDeviceAuthorization's expiresIn
    device_poll_interval: float = 1.0  # StartDeviceAuthorization's interval (slow_down below it)
    role_credentials: float = 3600.0  # sso GetRoleCredentials
    session_credentials: float = 129600.0  # cap on sts AssumeRole / GetSessionToken durations


@dataclass(frozen=True)
class MfaDeviceConfig:
    serial_number: str  # arn:aws:iam::<account>:mfa/<name>
    code: str  # the one code the device "shows"; any other is refused


@dataclass(frozen=True)
class FaultsConfig:
    fail_app_start: tuple[str, ...] = ()  # space names whose app starts end in Failed
    start_session_failures: int = 0  # the next N StartSession calls answer InternalFailure
    deny_pricing: bool = False  # pricing:GetProducts answers AccessDeniedException


IDLE_TIMEOUT_BOUNDS = (60, 525600)  # botocore's IdleTimeoutInMinutes
SESSION_IDLE_BOUNDS = (1, 60)  # Session Manager's idle session timeout, minutes


@dataclass(frozen=True)
class LimitsConfig:
    """The service's limits on sessions (emulated minutes: see ``minute_seconds``)."""

    sessions_per_space: int = 10  # concurrent StartSession sessions; ResourceLimitExceeded beyond
    session_idle_timeout_minutes: float = 20.0  # no traffic this long: terminated; 0: never


@dataclass(frozen=True)
class EmulatorConfig:
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    pacing: str = "realistic"
    credentials: tuple[CredentialConfig, ...] = (
        CredentialConfig(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY),
    )
    domains: tuple[DomainConfig, ...] = ()
    delays: DelaysConfig = field(default_factory=DelaysConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    tokens: TokensConfig = field(default_factory=TokensConfig)
    mfa_devices: tuple[MfaDeviceConfig, ...] = ()
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    minute_seconds: float = 60.0  # how long one emulated minute lasts (idle timeouts)
    hostile: bool = False  # add spaces and domains with hostile names (see hostile.py)
    latency_ms: float = 0.0  # one-way delay on every API call and websocket frame (delay.py)
    # Data messages the agent sends per pacing tick under a backlog (its core's pace_batch).
    # 16: bursts every ~17 ms, kind to the client; 1: one message per websocket write about
    # every millisecond, as the real agent sends (it sleeps 1 ms after each <= 1024-byte read).
    agent_burst: int = 16

    def with_overrides(
        self,
        *,
        port: int | None = None,
        pacing: str | None = None,
        minute_seconds: float | None = None,
        session_limit: int | None = None,
        hostile: bool | None = None,
        latency_ms: float | None = None,
        agent_burst: int | None = None,
    ) -> EmulatorConfig:
        """Command-line options win over the file."""
        updated = self
        if port is not None:
            updated = replace(updated, port=_port(port, "--port"))
        if pacing is not None:
            updated = replace(updated, pacing=_choice(pacing, PACINGS, "--pacing"))
        if minute_seconds is not None:
            updated = replace(updated, minute_seconds=_minute(minute_seconds, "--minute-seconds"))
        if session_limit is not None:
            limits = replace(
                updated.limits, sessions_per_space=_session_limit(session_limit, "--session-limit")
            )
            updated = replace(updated, limits=limits)
        if hostile is not None:
            updated = replace(updated, hostile=hostile)
        if latency_ms is not None:
            updated = replace(updated, latency_ms=_latency(latency_ms, "--latency-ms"))
        if agent_burst is not None:
            updated = replace(updated, agent_burst=_agent_burst(agent_burst, "--agent-burst"))
        return updated


def default_domains() -> tuple[DomainConfig, ...]:
    """The seed used without a config file: one domain with the three spaces a demo needs."""
    return (
        DomainConfig(
            id=DEFAULT_DOMAIN_ID,
            name=DEFAULT_DOMAIN_NAME,
            user_profiles=(DEFAULT_USER_PROFILE,),
            spaces=(
                SpaceConfig(name="demo", app_type="JupyterLab", remote_access="ENABLED"),
                SpaceConfig(name="editor", app_type="CodeEditor", remote_access="ENABLED"),
                SpaceConfig(name="locked", app_type="JupyterLab", remote_access="DISABLED"),
            ),
        ),
    )


def default_config() -> EmulatorConfig:
    return EmulatorConfig(domains=default_domains())


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
    root = _Obj(data, "config")
    cfg = EmulatorConfig(
        region=root.text("region", DEFAULT_REGION, pattern=_REGION),
        account_id=root.text("account_id", DEFAULT_ACCOUNT_ID, pattern=_ACCOUNT),
        host=root.text("host", "127.0.0.1"),
        port=_port(root.integer("port", 0), "port"),
        pacing=_choice(root.text("pacing", "realistic"), PACINGS, "pacing"),
        credentials=_credentials(root),
        domains=_domains(root),
        delays=_delays(root),
        faults=_faults(root),
        tokens=_tokens(root),
        mfa_devices=_mfa_devices(root),
        limits=_limits(root),
        minute_seconds=_minute(root.number("minute_seconds", 60.0), "minute_seconds"),
        hostile=root.boolean("hostile", False),
        latency_ms=_latency(root.number("latency_ms", 0.0), "latency_ms"),
        agent_burst=_agent_burst(root.integer("agent_burst", 16), "agent_burst"),
    )
    root.done()
    return cfg


# -- sections ----------------------------------------------------------------------------


def _credentials(root: _Obj) -> tuple[CredentialConfig, ...]:
    items = root.items("credentials")
    if items is None:
        return EmulatorConfig().credentials
    if not items:
        raise ConfigError("credentials: needs at least one entry")
    creds = []
    for i, item in enumerate(items):
        obj = _Obj(item, f"credentials[{i}]")
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


def _domains(root: _Obj) -> tuple[DomainConfig, ...]:
    items = root.items("domains")
    if items is None:
        return default_domains()
    domains = []
    for i, item in enumerate(items):
        obj = _Obj(item, f"domains[{i}]")
        domain_id = obj.req_str("id", pattern=_DOMAIN_ID)
        name = obj.text("name", domain_id)
        profiles_raw = obj.items("user_profiles")
        profiles = tuple(
            _name(p, f"{obj.where}.user_profiles[{j}]")
            for j, p in enumerate(
                profiles_raw if profiles_raw is not None else [DEFAULT_USER_PROFILE]
            )
        )
        if not profiles:
            raise ConfigError(f"{obj.where}.user_profiles: needs at least one user profile")
        _unique(profiles, f"{obj.where}.user_profiles")
        spaces = tuple(
            _space(s, f"{obj.where}.spaces[{j}]", profiles)
            for j, s in enumerate(obj.items("spaces") or [])
        )
        _unique([s.name for s in spaces], f"{obj.where}.spaces")
        idle = _idle_minutes(obj, "idle_timeout_minutes")
        obj.done()
        domains.append(DomainConfig(domain_id, name, profiles, spaces, idle))
    _unique([d.id for d in domains], "domains")
    return tuple(domains)


def _space(data: Any, where: str, profiles: tuple[str, ...]) -> SpaceConfig:
    obj = _Obj(data, where)
    owner = obj.opt_str("owner") or profiles[0]
    if owner not in profiles:
        raise ConfigError(f"{where}.owner: {owner!r} is not a user profile of this domain")
    space = SpaceConfig(
        name=_name(obj.req_str("name"), f"{where}.name"),
        app_type=_choice(obj.text("app_type", "JupyterLab"), APP_TYPES, f"{where}.app_type"),
        remote_access=_choice(
            obj.text("remote_access", "ENABLED"), FEATURE_STATUSES, f"{where}.remote_access"
        ),
        instance_type=obj.text("instance_type", DEFAULT_INSTANCE_TYPE),
        owner=owner,
        sharing=_choice(obj.text("sharing", "Private"), SHARING_TYPES, f"{where}.sharing"),
        app_running=obj.boolean("app_running", False),
        idle_timeout_minutes=_idle_minutes(obj, "idle_timeout_minutes"),
    )
    obj.done()
    return space


def _limits(root: _Obj) -> LimitsConfig:
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
        sessions_per_space=_session_limit(
            obj.integer("sessions_per_space", base.sessions_per_space),
            "limits.sessions_per_space",
        ),
        session_idle_timeout_minutes=float(idle),
    )
    obj.done()
    return limits


def _idle_minutes(obj: _Obj, key: str) -> int | None:
    value = obj.raw(key)
    if value is None:
        return None
    low, high = IDLE_TIMEOUT_BOUNDS
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{obj.where}.{key}: expected whole minutes from {low} to {high}")
    return value


def _session_limit(value: int, where: str) -> int:
    if value < 1:
        raise ConfigError(f"{where}: must be 1 or more")
    return value


def _minute(value: float, where: str) -> float:
    if not value > 0:
        raise ConfigError(f"{where}: must be more than 0 seconds")
    return float(value)


LATENCY_BOUNDS = (0.0, 10000.0)  # ms one way: 0 is loopback, 10 s is no link anyone uses


def _latency(value: float, where: str) -> float:
    low, high = LATENCY_BOUNDS
    if not low <= value <= high:
        raise ConfigError(f"{where}: {value} ms is outside {low:g}-{high:g}")
    return float(value)


AGENT_BURST_MAX = 32  # the core's rate_burst: more tokens than that never accumulate


def _agent_burst(value: int, where: str) -> int:
    if not 1 <= value <= AGENT_BURST_MAX:
        raise ConfigError(f"{where}: {value} is outside 1-{AGENT_BURST_MAX}")
    return value


def _delays(root: _Obj) -> DelaysConfig:
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


def _tokens(root: _Obj) -> TokensConfig:
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


def _mfa_devices(root: _Obj) -> tuple[MfaDeviceConfig, ...]:
    devices = []
    for i, item in enumerate(root.items("mfa_devices") or []):
        obj = _Obj(item, f"mfa_devices[{i}]")
        code = obj.raw("code")
        if isinstance(code, int) and not isinstance(code, bool):
            code = f"{code:06d}"  # YAML reads 123456 as a number
        if not isinstance(code, str) or not re.fullmatch(r"[0-9]{6}", code):
            raise ConfigError(f"{obj.where}.code: expected six digits")
        devices.append(MfaDeviceConfig(obj.req_str("serial_number", pattern=_MFA_SERIAL), code))
        obj.done()
    _unique([d.serial_number for d in devices], "mfa_devices")
    return tuple(devices)


def _faults(root: _Obj) -> FaultsConfig:
    obj = root.section("faults")
    if obj is None:
        return FaultsConfig()
    names = obj.items("fail_app_start") or []
    failures = obj.integer("start_session_failures", 0)
    if failures < 0:
        raise ConfigError("faults.start_session_failures: must be 0 or more")
    faults = FaultsConfig(
        fail_app_start=tuple(_name(n, f"faults.fail_app_start[{i}]") for i, n in enumerate(names)),
        start_session_failures=failures,
        deny_pricing=obj.boolean("deny_pricing", False),
    )
    obj.done()
    return faults


# -- typed access to one mapping, remembering which keys were used -----------------------


class _Obj:
    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {_kind(data)}")
        self.data: Mapping[Any, Any] = data
        self.where = where
        self._used: set[str] = set()

    def raw(self, key: str) -> Any:
        self._used.add(key)
        return self.data.get(key)

    def section(self, key: str) -> _Obj | None:
        """A nested mapping (None when absent), its errors located under this one."""
        data = self.raw(key)
        return (
            None
            if data is None
            else _Obj(data, key if self.where == "config" else f"{self.where}.{key}")
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


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ConfigError(
            f"{where}: {value!r} is not a valid name (letters, digits and hyphens, at most 63)"
        )
    return value


def _choice(value: str, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def _port(value: int, where: str) -> int:
    if not 0 <= value <= 65535:
        raise ConfigError(f"{where}: {value} is not a TCP port (0-65535)")
    return value


def _unique(values: Any, where: str) -> None:
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
