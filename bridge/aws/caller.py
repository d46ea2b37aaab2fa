"""What this process's environment says about its caller's AWS context, as plain values: the
rules of ``bridge.aws.context`` (botocore's order) without its dataclasses.

The ssh ProxyCommand reads it on every connection and only sends it on (``caller_params``), so
it does not pay for ``dataclasses`` (which imports ``inspect``: ~15 ms of its start);
``AwsContext.from_env`` and ``AwsContext.params`` are built on the same two functions, so both
read and send the same thing. Stdlib only, and nothing of the secret is kept or printed here.
"""

from __future__ import annotations

TYPE_CHECKING = False  # collections.abc imports collections: a cost of every ssh connection
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["caller_params", "context_params", "env_context"]

Credentials = dict[str, str | None]  # access_key_id, secret_access_key, session_token, expiration


def env_context(
    env: Mapping[str, str],
) -> tuple[str | None, str | None, str | None, Credentials | None]:
    """(profile, region, endpoint_url, exported credentials) from ``env``. Exported credentials
    come before ``AWS_PROFILE``, as in botocore (an explicit ``--profile`` beats both)."""
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    credentials: Credentials | None = None
    if key and secret:
        credentials = {
            "access_key_id": key,
            "secret_access_key": secret,
            "session_token": env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or None,
            "expiration": env.get("AWS_CREDENTIAL_EXPIRATION") or None,
        }
    return (
        None if credentials else env.get("AWS_PROFILE") or None,
        env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        env.get("AWS_ENDPOINT_URL") or None,
        credentials,
    )


def context_params(
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    *,
    caller_env: bool,
    credentials: Mapping[str, object] | None,
) -> dict[str, object]:
    """The context parameters of every daemon method that touches AWS."""
    params: dict[str, object] = {
        "profile": profile,
        "region": region,
        "endpoint_url": endpoint_url,
    }
    if caller_env:
        params["caller_env"] = True
    if credentials is not None:
        params["credentials"] = dict(credentials)
    return params


def caller_params(env: Mapping[str, str], profile: str | None) -> dict[str, object]:
    """``AwsContext.from_env(env).with_profile(profile).params()``: a ``--profile`` replaces
    the exported credentials and ``AWS_PROFILE``, as in the AWS CLI."""
    env_profile, region, endpoint_url, credentials = env_context(env)
    if profile:
        env_profile, credentials = profile, None
    return context_params(
        env_profile, region, endpoint_url, caller_env=True, credentials=credentials
    )
