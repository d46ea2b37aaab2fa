"""Who a request runs as: the caller's credential source, region and endpoint (one definition
for all layers).

The CLI, the proxy, the Python API and the extension build it from their options and their own
environment and send it with every daemon request that touches AWS; the daemon acts only on
what the caller sent (docs/design/identity.md). The source is, in botocore's order: an explicit
``--profile``; else credentials exported in the caller's environment (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, as aws-vault, granted or CI jobs export them),
sent as values; else ``AWS_PROFILE``; else the default chain.

The secret never appears in a key, a repr or a log line: keys carry a SHA-256 fingerprint.
Stdlib only: the CLI and the proxy import it for every command.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.aws.caller import context_params, env_context

__all__ = ["AwsContext", "EnvCredentials", "IdentityKey"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvCredentials:
    """Credentials a caller exported in its shell; ``expiration`` is ``AWS_CREDENTIAL_EXPIRATION``
    (set by aws-vault, granted and ``aws configure export-credentials``), when known."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expiration: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EnvCredentials | None:
        credentials = env_context(env)[3]
        return None if credentials is None else cls.of(credentials)

    @classmethod
    def of(cls, values: Mapping[str, str | None]) -> EnvCredentials:
        """From ``params()``' dict (what ``bridge.aws.caller`` reads and the daemon receives)."""
        key, secret = values.get("access_key_id"), values.get("secret_access_key")
        if not key or not secret:
            raise ValueError("credentials need an access key id and a secret access key")
        return cls(
            access_key_id=key,
            secret_access_key=secret,
            session_token=values.get("session_token"),
            expiration=values.get("expiration"),
        )

    @property
    def fingerprint(self) -> str:
        """Names these exact credentials without revealing them (a wrong secret differs)."""
        material = "\0".join((self.access_key_id, self.secret_access_key, self.session_token or ""))
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def params(self) -> dict[str, Any]:
        return {
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "session_token": self.session_token,
            "expiration": self.expiration,
        }


@dataclass(frozen=True, slots=True)
class IdentityKey:
    """What the daemon keys sessions, clients and channels by: printable, secret-free.

    ``source`` is ``profile`` (``name`` is the profile), ``environment`` (``name`` is the
    credentials' fingerprint) or ``default`` (the daemon's own chain, for callers that send no
    source: raw RPC clients).
    """

    source: str
    name: str
    region: str | None
    endpoint_url: str | None

    def describe(self) -> str:
        if self.source == "profile":
            return f"profile {self.name}"
        if self.source == "environment":
            return f"exported credentials #{self.name[:8]}"
        return "the daemon's default credential chain"


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsContext:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    credentials: EnvCredentials | None = None
    caller_env: bool = False  # built from a caller's environment: the daemon's own is not used

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AwsContext:
        """What this process's environment says (the daemon's may differ: it reads the caller's)."""
        # botocore: exported credentials come before AWS_PROFILE (not before --profile).
        profile, region, endpoint_url, credentials = env_context(os.environ if env is None else env)
        return cls(
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
            credentials=None if credentials is None else EnvCredentials.of(credentials),
            caller_env=True,
        )

    def with_profile(self, profile: str | None) -> AwsContext:
        """An explicit ``--profile`` wins over exported credentials, as in the AWS CLI."""
        if not profile:
            return self
        return AwsContext(
            profile=profile,
            region=self.region,
            endpoint_url=self.endpoint_url,
            caller_env=self.caller_env,
        )

    @property
    def key(self) -> IdentityKey:
        if self.credentials is not None:
            source, name = "environment", self.credentials.fingerprint
        elif self.profile or self.caller_env:
            source, name = "profile", self.profile or "default"
        else:
            source, name = "default", ""
        return IdentityKey(source, name, self.region, self.endpoint_url)

    def params(self) -> dict[str, Any]:
        """The context parameters of every daemon method that touches AWS."""
        return context_params(
            self.profile,
            self.region,
            self.endpoint_url,
            caller_env=self.caller_env,
            credentials=None if self.credentials is None else self.credentials.params(),
        )
