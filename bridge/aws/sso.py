"""IAM Identity Center sign-in: the OIDC device authorization flow and token refresh.

The token goes to the standard SSO cache (``~/.aws/sso/cache/<sha1>.json``, the AWS CLI's own
format), keyed by the sso-session name, or by the start URL for a legacy profile, so the AWS
CLI, botocore and every other SDK share it with us. Nothing else holds the token: the daemon's
botocore session reads the cache when it needs credentials and refreshes it itself
(``sso_session`` profiles); ``refresh`` covers legacy profiles, which botocore never refreshes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
from botocore import UNSIGNED
from botocore.config import Config

from bridge import fsutil
from bridge.aws import awsconfig, clock
from bridge.aws.errors import ConfigurationError, CredentialsError

log = logging.getLogger(__name__)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_SCOPES = ("sso:account:access",)
SLOW_DOWN_STEP = 5.0  # RFC 8628 3.5: add 5 s to the interval for this and later polls
REFRESH_WINDOW = 15 * 60.0  # same as botocore: refresh a token that has less than this left


@dataclass(frozen=True)
class SsoProfile:
    profile: str
    start_url: str
    region: str
    session_name: str | None  # None: a legacy profile (sso_start_url in the profile)
    scopes: tuple[str, ...] = DEFAULT_SCOPES

    @property
    def cache_key(self) -> str:
        return hashlib.sha1(  # noqa: S324 (the cache's file name, as botocore computes it)
            (self.session_name or self.start_url).encode("utf-8")
        ).hexdigest()

    @property
    def cache_file(self) -> Path:
        return cache_dir() / f"{self.cache_key}.json"


@dataclass(frozen=True)
class DeviceCode:
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: float


Announce = Callable[[DeviceCode], None]


def cache_dir() -> Path:
    return Path(os.path.expanduser(os.path.join("~", ".aws", "sso", "cache")))


def sso_profile(profile: str) -> SsoProfile | None:
    """The SSO settings of ``profile`` (sso_session sections or legacy sso_* keys), or None."""
    sections = awsconfig.read_config()
    settings = awsconfig.profile_settings(profile)
    if not settings and profile != "default" and awsconfig.profile_section(profile) not in sections:
        raise ConfigurationError(
            f"AWS profile {profile!r} is not defined in {awsconfig.config_path()}"
        )
    session_name = settings.get("sso_session")
    if session_name:
        session = sections.get(f"sso-session {session_name}")
        if session is None:
            raise ConfigurationError(
                f"profile {profile!r} names sso_session {session_name!r}, but "
                f"{awsconfig.config_path()} has no [sso-session {session_name}] section"
            )
        start_url, region = session.get("sso_start_url"), session.get("sso_region")
        scopes = tuple(
            s.strip() for s in session.get("sso_registration_scopes", "").split(",") if s.strip()
        )
        if not start_url or not region:
            raise ConfigurationError(
                f"[sso-session {session_name}] needs sso_start_url and sso_region"
            )
        return SsoProfile(profile, start_url, region, session_name, scopes or DEFAULT_SCOPES)
    start_url, region = settings.get("sso_start_url"), settings.get("sso_region")
    if start_url and region:
        return SsoProfile(profile, start_url, region, None)
    if start_url or region:
        raise ConfigurationError(f"profile {profile!r} needs both sso_start_url and sso_region")
    return None


# -- the cache ---------------------------------------------------------------------------------


def load_token(sso: SsoProfile) -> dict[str, Any] | None:
    try:
        data = json.loads(sso.cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "accessToken" in data else None


def save_token(sso: SsoProfile, token: dict[str, Any]) -> None:
    """Atomically, 0600, in a 0700 directory (the AWS CLI's layout)."""
    data = json.dumps(token).encode("utf-8")
    try:
        cache_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
        fsutil.atomic_write(sso.cache_file, data, expected=None, keep_metadata=False)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the SSO cache {sso.cache_file} ({exc.strerror or exc})"
        ) from None


def token_remaining(token: dict[str, Any], now: _dt.datetime | None = None) -> float:
    """Seconds the access token has left (negative once expired)."""
    return (parse_time(token.get("expiresAt")) - (now or _utcnow())).total_seconds()


def can_refresh(token: dict[str, Any], now: _dt.datetime | None = None) -> bool:
    if not all(token.get(k) for k in ("refreshToken", "clientId", "clientSecret")):
        return False
    return (parse_time(token.get("registrationExpiresAt")) - (now or _utcnow())).total_seconds() > 0


# -- sign-in -----------------------------------------------------------------------------------


class SsoSignIn:
    """Sign in to one SSO profile; ``sleep`` and ``monotonic`` (the poll loop's time) are
    injectable, so a test polls on a virtual clock instead of waiting out the interval."""

    def __init__(
        self,
        sso: SsoProfile,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        client: Any | None = None,
    ) -> None:
        self.sso = sso
        self._sleep = sleep
        self._monotonic = monotonic  # the poll deadline's clock, moved by ``sleep`` in tests
        self._client = client or _oidc_client(sso)

    def refresh(self) -> dict[str, Any] | None:
        """A new access token from the cached refresh token, saved to the cache; None if the
        cache has none that works (then only ``login`` helps)."""
        token = load_token(self.sso)
        if token is None or not can_refresh(token):
            return None
        try:
            response = self._client.create_token(
                grantType="refresh_token",
                clientId=token["clientId"],
                clientSecret=token["clientSecret"],
                refreshToken=token["refreshToken"],
            )
        except botocore.exceptions.ClientError as exc:
            log.info("SSO token refresh for %s refused: %s", self.sso.profile, _code(exc))
            return None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._unreachable(exc) from None
        fresh = self._token_from(response, token)
        save_token(self.sso, fresh)
        return fresh

    def login(self, announce: Announce) -> dict[str, Any]:
        """The device authorization flow: register (or reuse the registration), show the code,
        poll CreateToken until the user approves; the token is saved to the cache."""
        registration = self._registration(load_token(self.sso) or {})
        try:
            device = self._start_device(registration)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) != "InvalidClientException" or "accessToken" not in registration:
                raise self._refused(exc) from None
            registration = self._registration({})  # the cached registration was revoked
            try:
                device = self._start_device(registration)
            except botocore.exceptions.ClientError as again:
                raise self._refused(again) from None
        announce(
            DeviceCode(
                user_code=device["userCode"],
                verification_uri=device["verificationUri"],
                verification_uri_complete=device.get("verificationUriComplete")
                or device["verificationUri"],
                expires_in=float(device.get("expiresIn", 600)),
            )
        )
        response = self._poll(registration, device)
        token = self._token_from(response, registration)
        save_token(self.sso, token)
        return token

    def _start_device(self, registration: dict[str, Any]) -> dict[str, Any]:
        try:
            device: dict[str, Any] = self._client.start_device_authorization(
                clientId=registration["clientId"],
                clientSecret=registration["clientSecret"],
                startUrl=self.sso.start_url,
            )
        except botocore.exceptions.BotoCoreError as exc:
            raise self._unreachable(exc) from None
        return device

    def _refused(self, exc: botocore.exceptions.ClientError) -> CredentialsError:
        return CredentialsError(
            f"IAM Identity Center refused the sign-in request ({_code(exc)}); check "
            f"sso_start_url and sso_region of profile {self.sso.profile!r}"
        )

    def _unreachable(self, exc: Exception) -> CredentialsError:
        return CredentialsError(
            f"cannot reach IAM Identity Center in {self.sso.region} ({type(exc).__name__}); "
            "check the network and HTTPS_PROXY"
        )

    def _registration(self, cached: dict[str, Any]) -> dict[str, Any]:
        if cached.get("clientId") and cached.get("clientSecret"):
            expires = parse_time(cached.get("registrationExpiresAt"))
            if (expires - _utcnow()).total_seconds() > 3600:
                return cached
        params: dict[str, Any] = {
            "clientName": f"smconnect-{socket.gethostname()[:40]}",
            "clientType": "public",
            "scopes": list(self.sso.scopes),
        }
        if self.sso.session_name:
            params["grantTypes"] = [DEVICE_GRANT, "refresh_token"]
        try:
            response = self._client.register_client(**params)
        except botocore.exceptions.ClientError as exc:
            raise CredentialsError(
                f"IAM Identity Center refused to register smconnect ({_code(exc)})"
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._unreachable(exc) from None
        return {
            "clientId": response["clientId"],
            "clientSecret": response["clientSecret"],
            "registrationExpiresAt": _format_time(
                _dt.datetime.fromtimestamp(response["clientSecretExpiresAt"], _dt.UTC)
            ),
        }

    def _poll(self, registration: dict[str, Any], device: dict[str, Any]) -> dict[str, Any]:
        interval = float(device.get("interval") or 5)
        deadline = self._monotonic() + float(device.get("expiresIn", 600))
        while True:
            self._sleep(interval)
            try:
                response: dict[str, Any] = self._client.create_token(
                    grantType=DEVICE_GRANT,
                    deviceCode=device["deviceCode"],
                    clientId=registration["clientId"],
                    clientSecret=registration["clientSecret"],
                )
                return response
            except botocore.exceptions.BotoCoreError as exc:
                raise self._unreachable(exc) from None
            except botocore.exceptions.ClientError as exc:
                code = _code(exc)
                if code == "AuthorizationPendingException":
                    pass
                elif code == "SlowDownException":
                    interval += SLOW_DOWN_STEP
                elif code == "ExpiredTokenException":
                    raise CredentialsError(
                        "the sign-in request expired before it was approved; run the command again"
                    ) from None
                elif code == "AccessDeniedException":
                    raise CredentialsError("the sign-in request was denied") from None
                else:
                    raise CredentialsError(f"the sign-in failed ({code})") from None
            if self._monotonic() >= deadline:
                raise CredentialsError(
                    "the sign-in request expired before it was approved; run the command again"
                )

    def _token_from(self, response: dict[str, Any], registration: dict[str, Any]) -> dict[str, Any]:
        token = {
            "startUrl": self.sso.start_url,
            "region": self.sso.region,
            "accessToken": response["accessToken"],
            "expiresAt": _format_time(_utcnow() + _dt.timedelta(seconds=response["expiresIn"])),
            "clientId": registration["clientId"],
            "clientSecret": registration["clientSecret"],
            "registrationExpiresAt": registration["registrationExpiresAt"],
        }
        # A refresh answer without a new refresh token leaves the old one in force.
        refresh = response.get("refreshToken") or registration.get("refreshToken")
        if refresh:
            token["refreshToken"] = refresh
        return token


def _oidc_client(sso: SsoProfile) -> Any:
    """Unsigned sso-oidc in the SSO region; AWS_ENDPOINT_URL / the profile's endpoint apply."""
    session = boto3.Session(profile_name=None)
    return session.client(
        "sso-oidc",
        region_name=sso.region,
        config=Config(
            signature_version=UNSIGNED,
            connect_timeout=10,
            read_timeout=30,
            retries={"mode": "standard", "max_attempts": 3},
            user_agent_extra="smconnect",
        ),
    )


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _utcnow() -> _dt.datetime:
    return clock.now()  # real time, unless the emulator test set-up moved it (see clock)


def _format_time(when: _dt.datetime) -> str:
    return when.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> _dt.datetime:
    if not isinstance(value, str):
        return _dt.datetime.fromtimestamp(0, _dt.UTC)
    try:
        parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return _dt.datetime.fromtimestamp(0, _dt.UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.UTC)
