"""SigV4 verification: recompute the signature with botocore's own signer over the request as
received (method, raw path, raw query, the signed headers as sent, body) and compare.

Errors carry the awsJson codes; ``sts_code`` maps them to the query protocol's names.
"""

from __future__ import annotations

import datetime as _dt
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bridge.emulator.config import CredentialConfig
from bridge.emulator.control.errors import ApiError

SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_SKEW = _dt.timedelta(minutes=15)

_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
_INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."  # noqa: S105 (an error text)
_EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"  # noqa: S105

_STS_CODES = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "ExpiredTokenException": "ExpiredToken",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "IncompleteSignatureException": "IncompleteSignature",
}


def sts_code(code: str) -> str:
    return _STS_CODES.get(code, code)


def signature_mismatch(message: str = _SIGNATURE_MISMATCH) -> ApiError:
    return ApiError("InvalidSignatureException", message, 403)


@dataclass(frozen=True)
class Received:
    """The parts of an HTTP request SigV4 covers, exactly as they arrived."""

    method: str
    path: str  # raw, still percent-encoded
    query: str  # raw query string without '?'
    headers: Iterable[tuple[str, str]]  # every header line, in order
    body: bytes


@dataclass(frozen=True)
class _Authorization:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def verify(
    received: Received,
    credentials: Mapping[str, CredentialConfig],
    *,
    region: str,
    service: str,
    now: _dt.datetime,
) -> CredentialConfig:
    """The credential that signed the request, or an ApiError as AWS would answer."""
    headers: dict[str, list[str]] = {}
    for name, value in received.headers:
        headers.setdefault(name.lower(), []).append(value)
    auth = _parse_authorization(headers.get("authorization", []))
    cred = credentials.get(auth.access_key)
    if cred is None:
        raise ApiError("UnrecognizedClientException", _INVALID_TOKEN_MESSAGE, 403)
    tokens = headers.get("x-amz-security-token")
    sent_token = tokens[0] if tokens else None
    if sent_token != cred.session_token:
        raise ApiError("UnrecognizedClientException", _INVALID_TOKEN_MESSAGE, 403)
    if cred.expires_at is not None and now.timestamp() >= cred.expires_at:
        raise ApiError("ExpiredTokenException", _EXPIRED_TOKEN_MESSAGE, 400)

    amz_date = (headers.get("x-amz-date") or [""])[0]
    try:
        signed_at = _dt.datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=_dt.UTC)
    except ValueError:
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            400,
        ) from None
    if auth.date != amz_date[:8]:
        raise signature_mismatch(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{auth.date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if auth.region != region:
        raise signature_mismatch("Credential should be scoped to a valid region. ")
    if auth.service != service:
        raise signature_mismatch(f"Credential should be scoped to correct service: '{service}'. ")
    _check_skew(signed_at, now)

    expected = _signature(received, headers, auth, cred, amz_date)
    if not hmac.compare_digest(expected, auth.signature):
        raise signature_mismatch()
    return cred


def _parse_authorization(values: list[str]) -> _Authorization:
    if not values:
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    algorithm, _, rest = values[0].strip().partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise ApiError(
            "IncompleteSignatureException",
            f"Unsupported AWS 'algorithm': '{algorithm}'",
            400,
        )
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts[key] = value
    scope = parts.get("Credential", "").split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or "SignedHeaders" not in parts:
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
            "parameters, with a Credential of the form <key>/<date>/<region>/<service>/aws4_request.",
            400,
        )
    return _Authorization(
        access_key=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(h for h in parts["SignedHeaders"].lower().split(";") if h),
        signature=parts.get("Signature", ""),
    )


def _check_skew(signed_at: _dt.datetime, now: _dt.datetime) -> None:
    fmt = SIGV4_TIMESTAMP
    if signed_at < now - MAX_SKEW:
        raise signature_mismatch(
            f"Signature expired: {signed_at.strftime(fmt)} is now earlier than "
            f"{(now - MAX_SKEW).strftime(fmt)} ({now.strftime(fmt)} - 15 min.)"
        )
    if signed_at > now + MAX_SKEW:
        raise signature_mismatch(
            f"Signature not yet current: {signed_at.strftime(fmt)} is still later than "
            f"{(now + MAX_SKEW).strftime(fmt)} ({now.strftime(fmt)} + 15 min.)"
        )


def _signature(
    received: Received,
    headers: dict[str, list[str]],
    auth: _Authorization,
    cred: CredentialConfig,
    amz_date: str,
) -> str:
    host = (headers.get("host") or ["localhost"])[0]
    url = f"http://{host}{received.path}" + (f"?{received.query}" if received.query else "")
    request = AWSRequest(method=received.method, url=url, data=received.body)
    for name in auth.signed_headers:
        for value in headers.get(name, []):
            request.headers[name] = value  # HTTPHeaders appends repeated names
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(
        Credentials(cred.access_key_id, cred.secret_access_key, cred.session_token),
        auth.service,
        auth.region,
    )
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    return str(signer.signature(string_to_sign, request))
