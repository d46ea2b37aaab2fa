"""Where a profile's credentials come from, and how they are renewed without a snapshot.

Three kinds of profile matter here:

* **SSO** (``sso_session`` or legacy ``sso_*`` keys): botocore turns the cached SSO token into
  role credentials and refreshes both; ``refresh_sso`` renews the token from its refresh token
  where botocore does not (legacy profiles), and only a ``smconnect login`` helps once that
  is gone.
* **keyring** (``credential_process = smconnect credentials P``): ``process_credentials`` hands
  the long-term keys from the OS keyring to the SDK, or, with ``mfa_serial`` or
  ``smconnect_role_arn``, an STS session made from them and cached in the keyring until it
  expires. An MFA code is asked for once per session (``smconnect login`` or a terminal).
* anything else the standard chain resolves (environment, credentials file, assume-role,
  other ``credential_process``es): used as is.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.aws import awsconfig
from bridge.aws.errors import ConfigurationError, CredentialsError
from bridge.aws.keyring_store import AccessKeys, KeyringStore, SessionCredentials

MIN_SESSION_LEFT = 5.0  # seconds: a cached session closer to its end than this is not handed out
ROLE_ARN_KEY = "smconnect_role_arn"  # not role_arn: botocore would then assume the role itself
DURATION_KEY = "smconnect_duration_seconds"

Prompt = Callable[[str], str]


class MfaCodeNeeded(CredentialsError):
    """The cached STS session is gone and only the user can supply the next MFA code."""


@dataclass(frozen=True)
class KeyringProfile:
    profile: str
    mfa_serial: str | None = None
    role_arn: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None
    region: str | None = None

    @property
    def uses_session(self) -> bool:
        return bool(self.mfa_serial or self.role_arn)


def resolve_profile_name(profile: str | None) -> str:
    return profile or os.environ.get("AWS_PROFILE") or "default"


def keyring_profile(profile: str) -> KeyringProfile:
    settings = awsconfig.profile_settings(profile)
    duration = settings.get(DURATION_KEY)
    if duration is not None and not duration.isdigit():
        raise ConfigurationError(f"profile {profile!r}: {DURATION_KEY} must be a number of seconds")
    return KeyringProfile(
        profile=profile,
        mfa_serial=settings.get("mfa_serial") or None,
        role_arn=settings.get(ROLE_ARN_KEY) or None,
        role_session_name=settings.get("role_session_name") or None,
        duration_seconds=int(duration) if duration else None,
        region=settings.get("region") or None,
    )


def is_keyring_profile(profile: str) -> bool:
    command = awsconfig.profile_settings(profile).get("credential_process", "")
    try:
        parts = shlex.split(command)
    except ValueError:
        return False
    return (
        len(parts) == 3
        and os.path.basename(parts[0]) == "smconnect"
        and parts[1:] == ["credentials", profile]
    )


def process_credentials(
    profile: str, *, store: KeyringStore | None = None, prompt: Prompt | None = None
) -> dict[str, Any]:
    """The ``credential_process`` answer for a keyring profile (JSON-ready)."""
    store = store or KeyringStore()
    keys = store.keys(profile)
    if keys is None:
        raise CredentialsError(
            f"no access keys for profile {profile!r} in the OS keyring: "
            f"run `smconnect configure --profile {profile}`"
        )
    settings = keyring_profile(profile)
    if not settings.uses_session:
        return {
            "Version": 1,
            "AccessKeyId": keys.access_key_id,
            "SecretAccessKey": keys.secret_access_key,
        }
    cached = store.session(profile)
    if cached is not None and cached.remaining() > MIN_SESSION_LEFT:
        return cached.process_output()
    code = None
    if settings.mfa_serial:
        if prompt is None:
            raise MfaCodeNeeded(
                f"profile {profile!r} needs a new MFA code: run `smconnect login --profile {profile}`"
            )
        code = prompt(f"MFA code for {settings.mfa_serial}: ").strip()
    session = start_session(settings, keys, code)
    store.set_session(profile, session)
    return session.process_output()


def process_main(profile: str) -> int:
    """``smconnect credentials P``: the JSON on stdout and exit 0, or one line on stderr and
    exit 4. Kept free of typer so ``bridge.__main__`` can route here before the CLI loads."""
    import json
    import sys

    try:
        result = process_credentials(profile, prompt=terminal_prompt())
    except (CredentialsError, ConfigurationError) as exc:
        sys.stderr.write(f"smconnect: {exc}\n")
        return 4  # bridge.cli.errors.ExitCode.AWS_SETUP
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


def start_session(
    settings: KeyringProfile, keys: AccessKeys, code: str | None
) -> SessionCredentials:
    """GetSessionToken (MFA only) or AssumeRole with the long-term keys."""
    import boto3
    import botocore.exceptions

    region = (
        settings.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    sts = boto3.Session(
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        region_name=region,
    ).client("sts")
    params: dict[str, Any] = {}
    if settings.mfa_serial:
        params.update(SerialNumber=settings.mfa_serial, TokenCode=code or "")
    if settings.duration_seconds:
        params["DurationSeconds"] = settings.duration_seconds
    response: Any
    try:
        if settings.role_arn:
            response = sts.assume_role(
                RoleArn=settings.role_arn,
                RoleSessionName=settings.role_session_name or _session_name(),
                **params,
            )
        else:
            response = sts.get_session_token(**params)
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise CredentialsError(
            f"STS refused a session for profile {settings.profile!r} "
            f"({error.get('Code', 'Unknown')}: {error.get('Message', '')})"
        ) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise CredentialsError(
            f"cannot reach STS for profile {settings.profile!r} ({type(exc).__name__})"
        ) from None
    creds = response["Credentials"]
    expiration = creds["Expiration"]
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=_dt.UTC)
    return SessionCredentials(
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
        expiration=expiration,
    )


def terminal_prompt() -> Prompt | None:
    """A prompt on the controlling terminal, or None without one (a daemon, a pipe).

    ``credential_process`` runs with stdout captured by the SDK, so the question goes to the
    terminal itself, never to stdout.
    """
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    os.close(fd)

    def ask(question: str) -> str:
        return getpass.getpass(question)  # reads /dev/tty, echo off

    return ask


# -- SSO ---------------------------------------------------------------------------------------


def refresh_sso(profile: str | None) -> bool:
    """Renew the SSO token of ``profile`` from its refresh token; True if a new token was saved.

    For callers that just saw credentials fail: a token that still has time left is left alone.
    """
    from bridge.aws import sso

    try:
        settings = sso.sso_profile(resolve_profile_name(profile))
    except ConfigurationError:
        return False
    if settings is None:
        return False
    token = sso.load_token(settings)
    if token is None or not sso.can_refresh(token):
        return False
    if sso.token_remaining(token) > sso.REFRESH_WINDOW:
        return False
    return sso.SsoSignIn(settings).refresh() is not None


def credential_fingerprint() -> tuple[tuple[str, int, int], ...]:
    """A cheap stamp of the files a sign-in changes (the config files and the SSO cache); it
    differs after ``smconnect login``, ``aws sso login`` or an edit, without asking AWS."""
    from bridge.aws import sso

    paths = [awsconfig.config_path(), awsconfig.credentials_path(), _sign_in_marker()]
    with contextlib.suppress(OSError):
        paths += sorted(sso.cache_dir().iterdir())
    stamp = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        stamp.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(stamp)


@dataclass(frozen=True)
class SignInDeadline:
    """When the credentials of a profile stop renewing themselves: the SSO access token of a
    sign-in without a usable refresh token, or the end of a keyring MFA session."""

    profile: str
    expires_at: _dt.datetime
    source: str  # "sso" or "mfa"

    def notification(self) -> dict[str, Any]:
        """The ``credentials`` notification that warns before the deadline."""
        when = self.expires_at.astimezone(_dt.UTC).strftime("%H:%M UTC")
        return {
            "state": "expiring",
            "profile": self.profile,
            "expires_at": self.expires_at.astimezone(_dt.UTC).isoformat(),
            "message": (
                f"the AWS sign-in of profile {self.profile!r} ends at {when}; "
                f"{sign_in_hint(self.profile)} before then so dropped sessions can resume"
            ),
        }


def sign_in_deadline(profile: str | None) -> SignInDeadline | None:
    """None when the credentials renew themselves (or nothing is known about their end)."""
    from bridge.aws import sso
    from bridge.aws.keyring_store import KeyringUnavailable

    name = resolve_profile_name(profile)
    try:
        settings = sso.sso_profile(name)
        if settings is not None:
            token = sso.load_token(settings)
            if token is None or sso.can_refresh(token):
                return None
            return SignInDeadline(name, sso.parse_time(token.get("expiresAt")), "sso")
        if is_keyring_profile(name) and keyring_profile(name).mfa_serial:
            session = KeyringStore().session(name)
            return SignInDeadline(name, session.expiration, "mfa") if session else None
    except (ConfigurationError, KeyringUnavailable):
        return None
    return None


def note_sign_in() -> None:
    """Tell a daemon waiting for a sign-in that one happened, for sign-ins that change no
    file it watches (an MFA session goes to the keyring): touch a marker in the state dir."""
    marker = _sign_in_marker()
    with contextlib.suppress(OSError):
        marker.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        marker.touch(mode=0o600)
        os.utime(marker)


def _sign_in_marker() -> Path:
    from bridge.paths import default_paths

    return default_paths().state_dir / "signed-in"


def sign_in_hint(profile: str | None) -> str:
    """What the user should run when only they can renew the credentials."""
    name = resolve_profile_name(profile)
    flag = "" if name == "default" else f" --profile {name}"
    return f"sign in again: run `smconnect login{flag}`"


def _session_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    cleaned = "".join(c for c in user if c.isalnum() or c in "+=,.@-_")[:50]
    return f"smconnect-{cleaned or 'user'}"
