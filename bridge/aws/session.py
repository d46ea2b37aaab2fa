"""boto3 sessions built on the standard AWS credential and config chain.

Everything the AWS CLI honours works unchanged: environment variables, shared config and
credentials files, SSO, assume-role, ``credential_process``, ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_<SERVICE>`` (how the emulator is reached) and ``HTTPS_PROXY``. Two additions:
an explicit ``--profile`` / ``--region`` wins over the environment, and ``AWS_REGION`` is honoured
as a fallback for ``AWS_DEFAULT_REGION`` (botocore itself reads only the latter).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import boto3
import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.session

from bridge.aws.context import EnvCredentials
from bridge.aws.errors import ConfigurationError, CredentialsError, ProfileNotFound, SignInExpired

__all__ = ["SessionSpec", "client_config", "make_session", "require_credentials"]


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """What the user asked for; None means "whatever the standard chain says".

    ``credentials``: a caller's exported credentials, used as they are (no chain at all, so a
    wrong secret is refused rather than replaced by whatever else the chain would find).
    """

    profile: str | None = None
    region: str | None = None
    credentials: EnvCredentials | None = None


# One botocore loader per data path for every session of the process (see _sharing_models).
_LOADERS: dict[object, botocore.loaders.Loader] = {}


def _sharing_models(profile: str | None = None) -> botocore.session.Session:
    """A botocore session whose service models come through the process's shared loader.

    botocore parses a service's JSON model once per loader, and each session makes its own:
    the daemon holds a session per identity (profile, exported credentials, region) and the
    SageMaker model alone is ~20 MB of parsed JSON, so each further identity cost that again.
    Shared, it is parsed and held once. A profile naming its own ``data_path`` gets a loader
    of its own."""
    session = botocore.session.Session(profile=profile)
    data_path = session.get_config_variable("data_path")
    loader = _LOADERS.get(data_path)
    if loader is None:
        loader = _LOADERS[data_path] = botocore.loaders.create_loader(data_path)
    session.register_component("data_loader", loader)
    return session


def _shared(session: boto3.Session) -> boto3.Session:
    """``session`` with the search path boto3 appends to the loader for each session it makes
    kept once (the loader is shared)."""
    paths = session._loader.search_paths
    paths[:] = list(dict.fromkeys(paths))
    return session


def make_session(spec: SessionSpec | None = None) -> boto3.Session:
    spec = spec or SessionSpec()
    region = spec.region or _region_from_env()
    if spec.credentials is not None:
        session = boto3.Session(
            aws_access_key_id=spec.credentials.access_key_id,
            aws_secret_access_key=spec.credentials.secret_access_key,
            aws_session_token=spec.credentials.session_token,
            region_name=region,
            botocore_session=_sharing_models(),
        )
    else:
        profile = spec.profile or os.environ.get("AWS_PROFILE") or None
        try:
            session = boto3.Session(
                profile_name=profile, region_name=region, botocore_session=_sharing_models(profile)
            )
        except botocore.exceptions.ProfileNotFound:
            raise ProfileNotFound(
                f"AWS profile {profile!r} is not defined in ~/.aws/config or ~/.aws/credentials; "
                "create it with `aws configure --profile NAME` or pick another with --profile"
            ) from None
    if not session.region_name:
        raise ConfigurationError(
            "no AWS region is configured: pass --region, set AWS_REGION, "
            "or set `region` for the profile in ~/.aws/config"
        )
    return _shared(session)


def require_credentials(session: boto3.Session) -> None:
    """Fail early, with the fix, when the chain finds no credentials at all.

    Resolves through botocore's refreshing providers: nothing here is a snapshot.
    """
    try:
        credentials = session.get_credentials()
    except (botocore.exceptions.TokenRetrievalError, botocore.exceptions.SSOError) as exc:
        raise SignInExpired(_credentials_hint(session, "the SSO session has expired")) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise CredentialsError(_credentials_hint(session, str(exc))) from None
    if credentials is None:
        raise CredentialsError(_credentials_hint(session, "no AWS credentials were found"))


def client_config(
    *, connect_timeout: float = 10.0, read_timeout: float = 30.0, attempts: int = 4
) -> botocore.config.Config:
    """Explicit timeouts on every client; botocore's standard retry mode for throttling.

    ``attempts`` counts tries, the first included (botocore's ``total_max_attempts``).
    """
    return botocore.config.Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": attempts},
        user_agent_extra="smconnect",
    )


def _region_from_env() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def _credentials_hint(session: boto3.Session, problem: str) -> str:
    profile = session.profile_name
    if profile and profile != "default":
        return (
            f"{problem} for profile {profile!r}: run `smconnect login --profile {profile}` "
            f"(SSO) or `aws configure --profile {profile}`"
        )
    return f"{problem}: run `aws configure`, `smconnect login` (SSO), or set AWS_PROFILE"
