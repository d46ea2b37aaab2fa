"""How a failed SageMaker/SSM call reads to a user: botocore's errors as ours, with the fix.

Kept apart from the client (``bridge.aws.studio``) so the client holds the API flow and this
module the wording; both are tested through the emulator (tests/aws, tests/cli/test_cli_errors).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import botocore.exceptions

from bridge.aws import validate
from bridge.aws.errors import (
    ApiError,
    AwsError,
    ConfigurationError,
    CredentialsError,
    SignInExpired,
    SpaceNotFound,
)

__all__ = ["code_of", "message_of", "operation_name", "translate", "untrusted_endpoint"]

_CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "AccessDeniedException",
    }
)


def untrusted_endpoint(exc: Exception) -> ConfigurationError | None:
    """A TLS failure reaching an endpoint (its certificate not trusted, most often: a proxy's
    or a private CA's), as one line naming the host; None for any other error. botocore's own
    text is a URL and OpenSSL's, without what to do."""
    if not isinstance(exc, botocore.exceptions.SSLError):
        return None
    url = str(exc.kwargs.get("endpoint_url", ""))
    host = urlsplit(url).hostname or url or "the endpoint"
    found = re.search(r"certificate verify failed: ([^(\]]+)", str(exc.kwargs.get("error", "")))
    if found is None:
        return ConfigurationError(f"the TLS connection to {host} failed: {exc}")
    return ConfigurationError(
        f"the TLS certificate of {host} is not trusted ({found.group(1).strip()}; "
        "AWS_CA_BUNDLE or the system's CA bundle must hold its CA)"
    )


def translate(operation: str, exc: Exception, *, endpoint_url: str, region: str) -> AwsError:
    """One botocore failure of ``operation`` as our error, with what to do about it."""
    if (untrusted := untrusted_endpoint(exc)) is not None:
        return untrusted
    if isinstance(exc, botocore.exceptions.ClientError):
        code, message = code_of(exc), message_of(exc)
        if "scoped to a valid region" in message:  # signed for one region, sent to another's
            return ConfigurationError(
                f"{operation}: the endpoint {endpoint_url} does not serve region "
                f"{region} ({message}); pass the endpoint's region (--region, AWS_REGION) "
                "or leave out the endpoint override"
            )
        if code in _CREDENTIAL_CODES:
            if code.startswith("AccessDenied"):
                return CredentialsError(
                    f"{operation} was denied: {message} (see docs/user-guide.md for the IAM permissions)"
                )
            return CredentialsError(
                f"AWS rejected the credentials ({code}): {message}; "
                "sign in again with `smconnect login` or `aws sso login`"
            )
        if code in ("ResourceNotFound", "ResourceNotFoundException"):
            return SpaceNotFound(f"{operation}: {message} {_not_found_hint(message, region)}")
        return ApiError(operation, code, message)
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return CredentialsError(
            "no AWS credentials were found: run `aws configure`, `smconnect login` (SSO), or set AWS_PROFILE"
        )
    if isinstance(exc, botocore.exceptions.CredentialRetrievalError):
        # A credential_process failed; its stderr (ours says what to run) is the message.
        return CredentialsError(f"the AWS credentials could not be renewed: {exc}")
    if isinstance(exc, (botocore.exceptions.TokenRetrievalError, botocore.exceptions.SSOError)):
        return SignInExpired(
            f"the SSO session has expired or is missing: run `smconnect login` ({exc})"
        )
    if isinstance(
        exc,
        (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError),
    ):
        return ConfigurationError(
            f"cannot reach the AWS endpoint for {operation} ({exc}); check the network, "
            "HTTPS_PROXY and the region"
        )
    return ApiError(operation, type(exc).__name__, str(exc))


def _not_found_hint(message: str, region: str) -> str:
    """What to do about a ResourceNotFound: a domain id is often from another region."""
    if message.startswith("Domain "):
        return (
            f"(in region {region}); `smconnect list` shows your spaces with their domain ids, "
            "and a domain in another region needs --region"
        )
    return "; `smconnect list` shows the spaces you can use"


def code_of(exc: botocore.exceptions.ClientError) -> str:
    return validate.plain(str(exc.response.get("Error", {}).get("Code", "Unknown")), 100)


def message_of(exc: botocore.exceptions.ClientError) -> str:
    return validate.plain(str(exc.response.get("Error", {}).get("Message", "")))


def operation_name(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))
