"""Who a set of credentials is (STS GetCallerIdentity), and what to say when AWS refuses them.

The daemon asks once per distinct exported credentials before it uses them, so a wrong secret
is refused with its own message instead of failing later as "sign in again", and so
credentials re-exported for the same principal (aws-vault, granted hand out new ones every
hour) can renew the sessions the older ones opened. Messages never contain a credential.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3
import botocore.exceptions

from bridge.aws.context import EnvCredentials
from bridge.aws.errors import (
    ConfigurationError,
    CredentialsError,
    CredentialsRejected,
    ExportedCredentialsExpired,
)
from bridge.aws.session import client_config
from bridge.aws.studio_errors import untrusted_endpoint

__all__ = ["Principal", "caller_identity", "exported_expired", "principal_of"]

_WRONG_SECRET = frozenset({"SignatureDoesNotMatch", "InvalidSignatureException"})
_UNKNOWN_KEY = frozenset({"InvalidClientTokenId", "UnrecognizedClientException"})
_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
_FIX = "re-export them (aws-vault, granted, `aws configure export-credentials`) or use a profile"


@dataclass(frozen=True, slots=True)
class Principal:
    """``account`` and the IAM principal, an assumed role without its session name (a tool
    names every new session differently; they are still the same caller)."""

    account: str
    arn: str


def principal_of(account: str, arn: str) -> Principal:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        arn = ":".join([*parts[:5], f"assumed-role/{role}"])
    return Principal(account=account, arn=arn)


def exported_expired(credentials: EnvCredentials, *, opened_session: bool) -> CredentialsError:
    """The one message for exported credentials past their end."""
    when = f" at {credentials.expiration}" if credentials.expiration else ""
    whose = "the shell that opened this session" if opened_session else "this shell"
    return ExportedCredentialsExpired(f"the credentials exported in {whose} expired{when}; {_FIX}")


def caller_identity(
    session: boto3.Session, credentials: EnvCredentials, endpoint_url: str | None
) -> Principal:
    """GetCallerIdentity with exported ``credentials``; their own error when AWS refuses them."""
    try:
        sts = session.client("sts", config=client_config(attempts=2), endpoint_url=endpoint_url)
        answer = sts.get_caller_identity()
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if "scoped to a valid region" in message:  # AWS's words for a signature's wrong region
            raise ConfigurationError(
                f"the endpoint does not serve region {session.region_name!r} (the credentials "
                "are fine): check --region / AWS_REGION and --endpoint-url / AWS_ENDPOINT_URL"
            ) from None
        raise _refused(code, credentials) from None
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError):
        raise ConfigurationError(
            "cannot reach AWS STS to check the exported credentials; check the network, "
            "HTTPS_PROXY, the region and AWS_ENDPOINT_URL"
        ) from None
    except (ValueError, botocore.exceptions.BotoCoreError) as exc:
        if (untrusted := untrusted_endpoint(exc)) is not None:
            raise untrusted from None
        raise ConfigurationError(f"the exported credentials cannot be used: {exc}") from None
    return principal_of(str(answer["Account"]), str(answer["Arn"]))


def _refused(code: str, credentials: EnvCredentials) -> CredentialsError:
    if code in _WRONG_SECRET:
        return CredentialsRejected(
            "AWS rejected the credentials exported in this shell: AWS_SECRET_ACCESS_KEY does not "
            f"match AWS_ACCESS_KEY_ID ({code}); {_FIX}"
        )
    if code in _UNKNOWN_KEY:
        return CredentialsRejected(
            "AWS does not know the access key exported in this shell (AWS_ACCESS_KEY_ID, "
            f"{code}); {_FIX}"
        )
    if code in _EXPIRED:
        return exported_expired(credentials, opened_session=False)
    return CredentialsRejected(f"AWS refused the credentials exported in this shell ({code})")
