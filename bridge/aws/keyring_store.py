"""Long-term access keys and the STS sessions made from them, in the OS keyring.

Nothing here writes a secret to a file of ours: the keyring backend (macOS Keychain, Windows
Credential Locker, Secret Service / KWallet, or whatever ``keyring`` is configured to use) holds
them. Two entries per profile: ``smconnect`` (the access key pair) and ``smconnect-session``
(the cached temporary credentials, replaced when they expire).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Any

from bridge.aws import clock
from bridge.aws.errors import CredentialsError

KEYS_SERVICE = "smconnect"
SESSION_SERVICE = "smconnect-session"

_NO_BACKEND_HINT = (
    "no usable OS keyring was found to hold AWS keys; choose a backend with keyring's own "
    "configuration: set PYTHON_KEYRING_BACKEND (for example "
    "keyrings.alt.file.EncryptedKeyring, from the keyrings.alt package) or write "
    "`default-keyring=...` under [backend] in the file `python -m keyring diagnose` names"
)


class KeyringUnavailable(CredentialsError):
    """No keyring backend can store secrets here; the message says how to choose one."""


@dataclass(frozen=True)
class AccessKeys:
    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class SessionCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: _dt.datetime

    def remaining(self, now: _dt.datetime | None = None) -> float:
        return (self.expiration - (now or clock.now())).total_seconds()

    def process_output(self) -> dict[str, Any]:
        """The ``credential_process`` JSON every SDK understands."""
        return {
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


class KeyringStore:
    def __init__(self) -> None:
        import keyring
        import keyring.errors

        self._keyring = keyring
        self._errors = keyring.errors

    def _backend(self) -> Any:
        backend = self._keyring.get_keyring()
        name = type(backend).__module__ + "." + type(backend).__name__
        if name.startswith(("keyring.backends.fail.", "keyring.backends.null.")):
            raise KeyringUnavailable(_NO_BACKEND_HINT)
        if name.startswith("keyring.backends.chainer.") and not getattr(backend, "backends", None):
            raise KeyringUnavailable(_NO_BACKEND_HINT)
        return backend

    def _get(self, service: str, profile: str) -> dict[str, Any] | None:
        try:
            raw = self._backend().get_password(service, profile)
        except self._errors.KeyringError as exc:
            raise self._failure(exc) from None
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def _set(self, service: str, profile: str, value: dict[str, Any]) -> None:
        try:
            self._backend().set_password(service, profile, json.dumps(value))
        except self._errors.KeyringError as exc:
            raise self._failure(exc) from None

    def _delete(self, service: str, profile: str) -> None:
        try:
            self._backend().delete_password(service, profile)
        except self._errors.PasswordDeleteError:
            pass
        except self._errors.KeyringError as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: Exception) -> KeyringUnavailable:
        if isinstance(exc, self._errors.NoKeyringError):
            return KeyringUnavailable(_NO_BACKEND_HINT)
        return KeyringUnavailable(
            f"the OS keyring refused the request ({type(exc).__name__}); unlock it, or choose "
            "another backend with PYTHON_KEYRING_BACKEND"
        )

    # -- access keys -----------------------------------------------------------------------

    def keys(self, profile: str) -> AccessKeys | None:
        data = self._get(KEYS_SERVICE, profile)
        if not data or not data.get("AccessKeyId") or not data.get("SecretAccessKey"):
            return None
        return AccessKeys(str(data["AccessKeyId"]), str(data["SecretAccessKey"]))

    def set_keys(self, profile: str, keys: AccessKeys) -> None:
        self._set(
            KEYS_SERVICE,
            profile,
            {"AccessKeyId": keys.access_key_id, "SecretAccessKey": keys.secret_access_key},
        )
        self._delete(SESSION_SERVICE, profile)  # a session of the old keys is not theirs

    def delete(self, profile: str) -> None:
        self._delete(KEYS_SERVICE, profile)
        self._delete(SESSION_SERVICE, profile)

    # -- cached sessions -------------------------------------------------------------------

    def session(self, profile: str) -> SessionCredentials | None:
        data = self._get(SESSION_SERVICE, profile)
        if not data:
            return None
        try:
            return SessionCredentials(
                access_key_id=str(data["AccessKeyId"]),
                secret_access_key=str(data["SecretAccessKey"]),
                session_token=str(data["SessionToken"]),
                expiration=_dt.datetime.fromisoformat(
                    str(data["Expiration"]).replace("Z", "+00:00")
                ),
            )
        except (KeyError, ValueError):
            return None

    def set_session(self, profile: str, session: SessionCredentials) -> None:
        self._set(SESSION_SERVICE, profile, session.process_output())

    def forget_session(self, profile: str) -> None:
        self._delete(SESSION_SERVICE, profile)
