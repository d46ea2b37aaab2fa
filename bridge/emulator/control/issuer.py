"""What the emulator's identity services hand out and later check: sso-oidc client
registrations, device authorizations, access and refresh tokens, and temporary AWS credentials
(sso GetRoleCredentials, sts AssumeRole / GetSessionToken).

Issued credentials join the plane's credential table, so SigV4 verification accepts exactly
what was issued (key, secret and session token) until it expires, then answers ExpiredToken.
Lifetimes come from ``tokens`` (``TokensConfig``); a test replaces it to make things expire in
seconds, and ``approve_device`` plays the user who approves a sign-in in the browser. Every
"now" of the identity services (and of SigV4's expiry check) is ``clock.time()``: a test moves
that clock forward instead of sleeping until something expires.
"""

from __future__ import annotations

import datetime as _dt
import secrets
import string
import time
from collections import Counter
from dataclasses import dataclass, field

from bridge.emulator.config import CredentialConfig, EmulatorConfig, TokensConfig
from bridge.emulator.control.errors import ApiError

_KEY_ALPHABET = string.ascii_uppercase + string.digits
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels: no words, as AWS does
DEFAULT_SSO_USER = "emulator-user"


@dataclass
class Clock:
    """The emulator's wall clock: real time plus an offset a test can only move forward, so
    "wait until the token expires" is one call instead of a sleep."""

    offset: float = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.time(), _dt.UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the emulator's clock only moves forward")
        self.offset += seconds


@dataclass
class OidcClient:
    client_id: str
    client_secret: str
    expires_at: float


@dataclass
class DeviceGrant:
    client_id: str
    device_code: str
    user_code: str
    start_url: str
    expires_at: float
    interval: float
    approved_by: str | None = None
    denied: bool = False
    last_poll: float | None = None


@dataclass
class AccessToken:
    user: str
    start_url: str
    expires_at: float


@dataclass
class RefreshToken:
    client_id: str
    user: str
    start_url: str
    expires_at: float


@dataclass
class Issuer:
    config: EmulatorConfig
    credentials: dict[str, CredentialConfig]  # the plane's table: issued entries are added
    tokens: TokensConfig = field(init=False)  # replace it to retime what is issued next
    mfa_codes: dict[str, str] = field(init=False)  # serial number -> the code it shows
    calls: Counter[str] = field(default_factory=Counter)  # operation -> times answered
    clients: dict[str, OidcClient] = field(default_factory=dict)
    devices: dict[str, DeviceGrant] = field(default_factory=dict)  # by device code
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    # Every secret ever handed out, so a test can prove that none of them reached a log.
    issued_secrets: set[str] = field(default_factory=set)
    clock: Clock = field(default_factory=Clock)  # the plane's one clock: advance it, not sleep

    def __post_init__(self) -> None:
        self.tokens = self.config.tokens
        self.mfa_codes = {d.serial_number: d.code for d in self.config.mfa_devices}

    # -- sso-oidc --------------------------------------------------------------------------

    def register_client(self) -> OidcClient:
        client = OidcClient(
            client_id=_opaque(22),
            client_secret=_opaque(48),
            expires_at=self.clock.time() + self.tokens.sso_client_registration,
        )
        self.clients[client.client_id] = client
        self.issued_secrets.add(client.client_secret)
        return client

    def client(self, client_id: str | None, client_secret: str | None) -> OidcClient:
        client = self.clients.get(client_id or "")
        if client is None or not _same(client.client_secret, client_secret):
            raise ApiError("InvalidClientException", "Invalid client credentials", 401)
        if self.clock.time() >= client.expires_at:
            raise ApiError("InvalidClientException", "The client registration has expired", 401)
        return client

    def start_device(self, client: OidcClient, start_url: str) -> DeviceGrant:
        grant = DeviceGrant(
            client_id=client.client_id,
            device_code=_opaque(40),
            user_code="-".join(
                "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(4)) for _ in range(2)
            ),
            start_url=start_url,
            expires_at=self.clock.time() + self.tokens.device_code,
            interval=self.tokens.device_poll_interval,
        )
        self.devices[grant.device_code] = grant
        return grant

    def approve_device(self, user_code: str, user: str = DEFAULT_SSO_USER) -> None:
        """The user signs in and allows the request shown with ``user_code``."""
        self._grant_for(user_code).approved_by = user

    def deny_device(self, user_code: str) -> None:
        self._grant_for(user_code).denied = True

    def pending_user_codes(self) -> list[str]:
        now = self.clock.time()
        return [
            g.user_code
            for g in self.devices.values()
            if g.approved_by is None and not g.denied and now < g.expires_at
        ]

    def token_for_device(self, client: OidcClient, device_code: str) -> dict[str, object]:
        grant = self.devices.get(device_code)
        if grant is None or grant.client_id != client.client_id:
            raise ApiError("InvalidGrantException", "Invalid device code provided")
        now = self.clock.time()
        if now >= grant.expires_at:
            raise ApiError("ExpiredTokenException", "Device code has expired")
        if grant.denied:
            raise ApiError("AccessDeniedException", "The user denied the authorization request")
        if grant.approved_by is None:
            too_soon = grant.last_poll is not None and now - grant.last_poll < grant.interval
            grant.last_poll = now
            if too_soon:
                raise ApiError("SlowDownException", "Client is polling too quickly")
            raise ApiError("AuthorizationPendingException", "Authorization is still pending")
        del self.devices[device_code]
        return self._tokens(client, grant.approved_by, grant.start_url)

    def token_for_refresh(self, client: OidcClient, refresh_token: str) -> dict[str, object]:
        record = self.refresh_tokens.get(refresh_token)
        if record is None or record.client_id != client.client_id:
            raise ApiError("InvalidGrantException", "Invalid refresh token provided")
        if self.clock.time() >= record.expires_at:
            del self.refresh_tokens[refresh_token]
            raise ApiError("InvalidGrantException", "The refresh token has expired")
        del self.refresh_tokens[refresh_token]  # rotated, as IAM Identity Center does
        return self._tokens(client, record.user, record.start_url)

    def revoke_sso_sessions(self) -> None:
        """Sign every user out: access and refresh tokens stop working (only a login helps)."""
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    def _tokens(self, client: OidcClient, user: str, start_url: str) -> dict[str, object]:
        now = self.clock.time()
        access, refresh = _opaque(64), _opaque(64)
        self.issued_secrets.update((access, refresh))
        self.access_tokens[access] = AccessToken(
            user, start_url, now + self.tokens.sso_access_token
        )
        self.refresh_tokens[refresh] = RefreshToken(
            client.client_id, user, start_url, now + self.tokens.sso_refresh_token
        )
        return {
            "accessToken": access,
            "tokenType": "Bearer",
            "expiresIn": max(1, round(self.tokens.sso_access_token)),
            "refreshToken": refresh,
        }

    # -- sso portal ------------------------------------------------------------------------

    def user_for_access_token(self, token: str | None) -> str:
        record = self.access_tokens.get(token or "")
        if record is None or self.clock.time() >= record.expires_at:
            raise ApiError("UnauthorizedException", "Session token not found or invalid", 401)
        return record.user

    # -- temporary credentials -------------------------------------------------------------

    def issue(self, arn: str, lifetime: float) -> CredentialConfig:
        cred = CredentialConfig(
            access_key_id="ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
            secret_access_key=_opaque(30),
            session_token=_opaque(120),
            expires_at=self.clock.time() + lifetime,
            arn=arn,
        )
        self.credentials[cred.access_key_id] = cred
        self.issued_secrets.update((cred.secret_access_key, cred.session_token or ""))
        return cred

    def check_mfa(self, serial_number: str | None, code: str | None) -> None:
        """AWS's answer to a wrong, missing or unknown one-time code."""
        if serial_number is None and code is None:
            return
        expected = self.mfa_codes.get(serial_number or "")
        if expected is None or not _same(expected, code):
            raise ApiError(
                "AccessDenied",
                "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
                403,
            )

    def _grant_for(self, user_code: str) -> DeviceGrant:
        for grant in self.devices.values():
            if grant.user_code == user_code:
                return grant
        raise KeyError(user_code)


def _same(expected: str, given: str | None) -> bool:
    return secrets.compare_digest(expected.encode(), (given or "").encode())


def _opaque(length: int) -> str:
    return secrets.token_urlsafe(length)[:length]
