"""The emulator's configuration: typed dataclasses, their bounds and the default seed.

What a config holds and what it defaults to; reading one from a file is ``config_load`` and
checking a single value (shared with the command line's overrides) is ``config_check``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bridge.emulator import config_check as check

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
    # Serve the API over HTTPS and the data channel as wss://, as the service does, with a
    # certificate of a CA made at start (tls.py); clients are told to trust it by env().
    tls: bool = False

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
        tls: bool | None = None,
    ) -> EmulatorConfig:
        """Command-line options win over the file."""
        updated = self
        if port is not None:
            updated = replace(updated, port=check.port(port, "--port"))
        if pacing is not None:
            updated = replace(updated, pacing=check.choice(pacing, PACINGS, "--pacing"))
        if minute_seconds is not None:
            updated = replace(
                updated, minute_seconds=check.minute(minute_seconds, "--minute-seconds")
            )
        if session_limit is not None:
            limits = replace(
                updated.limits,
                sessions_per_space=check.session_limit(session_limit, "--session-limit"),
            )
            updated = replace(updated, limits=limits)
        if hostile is not None:
            updated = replace(updated, hostile=hostile)
        if latency_ms is not None:
            updated = replace(updated, latency_ms=check.latency(latency_ms, "--latency-ms"))
        if agent_burst is not None:
            updated = replace(updated, agent_burst=check.agent_burst(agent_burst, "--agent-burst"))
        if tls is not None:
            updated = replace(updated, tls=tls)
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
