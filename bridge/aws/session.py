"""boto3 sessions built on the standard AWS credential and config chain.

Everything the AWS CLI honours works unchanged: environment variables, shared config and
credentials files, SSO, assume-role, ``credential_process``, ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_<SERVICE>`` (how the emulator is reached) and ``HTTPS_PROXY``. Two additions:
an explicit ``--profile`` / ``--region`` wins over the environment, and ``AWS_REGION`` is honoured
as a fallback for ``AWS_DEFAULT_REGION`` (botocore itself reads only the latter).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.session

from bridge.aws.context import EnvCredentials
from bridge.aws.errors import ConfigurationError, CredentialsError, ProfileNotFound, SignInExpired

__all__ = [
    "SessionSpec",
    "client_config",
    "make_session",
    "require_credentials",
    "use_trimmed_models",
    "warm_models",
]


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
_LOADERS_LOCK = threading.Lock()  # sessions are made in worker threads
_trimmed_root: Path | None = None


def use_trimmed_models(root: Path | None) -> None:
    """Serve the daemon's clients the trimmed SageMaker and SSM models kept under ``root``
    (``bridge.aws.models``) to the sessions made from now on; None: botocore's full models.
    Sessions made before keep the loader they have."""
    global _trimmed_root
    with _LOADERS_LOCK:
        _trimmed_root = root
        _LOADERS.clear()


def _sharing_models(profile: str | None = None) -> botocore.session.Session:
    """A botocore session whose service models come through the process's shared loader.

    botocore parses a service's JSON model once per loader, and each session makes its own:
    the daemon holds a session per identity (profile, exported credentials, region) and the
    SageMaker model alone is ~20 MB of parsed JSON, so each further identity cost that again.
    Shared, it is parsed and held once. A profile naming its own ``data_path`` gets a loader
    of its own. In the daemon, the loader serves trimmed models (``use_trimmed_models``)."""
    session = botocore.session.Session(profile=profile)
    data_path = session.get_config_variable("data_path")
    with _LOADERS_LOCK:
        loader = _LOADERS.get(data_path)
        if loader is None:
            loader = botocore.loaders.create_loader(data_path)
            if _trimmed_root is not None:
                from bridge.aws.models import ModelLoader, prepare

                paths = list(loader.search_paths)  # as botocore derives them from data_path
                loader = ModelLoader(extra_search_paths=paths, include_default_search_paths=False)
                prepare(loader, _trimmed_root)
            _LOADERS[data_path] = loader
    session.register_component("data_loader", loader)
    return session


def warm_models() -> None:
    """Build the trimmed models' cache now if it is missing (a worker thread at the daemon's
    start), so that build, about a second once per botocore version, is not on the first call's
    path; a session made meanwhile waits for it. Silent: the first session logs what it uses."""
    root = _trimmed_root
    if root is None:
        return
    from bridge.aws.models import cached

    try:
        data_path = botocore.session.Session().get_config_variable("data_path")
        cached(botocore.loaders.create_loader(data_path), root)
    except Exception:  # the first session tries again and says why it could not
        return


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
