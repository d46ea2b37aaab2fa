"""STS (query protocol): GetCallerIdentity, and the two calls that hand out temporary
credentials, AssumeRole and GetSessionToken, with their MFA checks."""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from bridge.emulator.config import CredentialConfig
from bridge.emulator.control.errors import ApiError
from bridge.emulator.control.issuer import Issuer

_ROLE_ARN = re.compile(
    r"arn:aws:iam::(?P<account>[0-9]{12}):role/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{1,64})"
)
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")


def caller_identity(cred: CredentialConfig, account_id: str) -> dict[str, str]:
    arn = cred.arn or f"arn:aws:iam::{account_id}:user/smconnect-emulator"
    digest = hashlib.sha256(cred.access_key_id.encode()).hexdigest().upper()[:17]
    if ":assumed-role/" in arn:
        user_id = f"AROA{digest}:{arn.rsplit('/', 1)[-1]}"
    else:
        user_id = f"AIDA{digest}"
    return {"UserId": user_id, "Account": account_id, "Arn": arn}


def assume_role(
    issuer: Issuer, caller: CredentialConfig, params: Mapping[str, str], account_id: str
) -> dict[str, Any]:
    role_arn = _required(params, "RoleArn")
    session_name = _required(params, "RoleSessionName")
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise _validation(f"{role_arn} is invalid")
    if not _SESSION_NAME.fullmatch(session_name):
        raise _validation(
            f"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed "
            "to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )
    if match["account"] != account_id:
        raise ApiError(
            "AccessDenied",
            f"User: {caller_identity(caller, account_id)['Arn']} is not authorized to perform: "
            f"sts:AssumeRole on resource: {role_arn}",
            403,
        )
    issuer.check_mfa(params.get("SerialNumber"), params.get("TokenCode"))
    duration = _duration(params, default=3600, maximum=43200)
    arn = f"arn:aws:sts::{account_id}:assumed-role/{match['name']}/{session_name}"
    cred = issuer.issue(arn, min(duration, issuer.tokens.session_credentials))
    issuer.calls["AssumeRole"] += 1
    digest = hashlib.sha256(role_arn.encode()).hexdigest().upper()[:17]
    return {
        "Credentials": _credentials(cred),
        "AssumedRoleUser": {"AssumedRoleId": f"AROA{digest}:{session_name}", "Arn": arn},
    }


def get_session_token(
    issuer: Issuer, caller: CredentialConfig, params: Mapping[str, str], account_id: str
) -> dict[str, Any]:
    if caller.session_token is not None:
        raise ApiError("AccessDenied", "Cannot call GetSessionToken with session credentials", 403)
    issuer.check_mfa(params.get("SerialNumber"), params.get("TokenCode"))
    duration = _duration(params, default=43200, maximum=129600)
    arn = caller.arn or f"arn:aws:iam::{account_id}:user/smconnect-emulator"
    cred = issuer.issue(arn, min(duration, issuer.tokens.session_credentials))
    issuer.calls["GetSessionToken"] += 1
    return {"Credentials": _credentials(cred)}


def _credentials(cred: CredentialConfig) -> dict[str, str]:
    assert cred.session_token is not None and cred.expires_at is not None
    expires = _dt.datetime.fromtimestamp(cred.expires_at, _dt.UTC)
    return {
        "AccessKeyId": cred.access_key_id,
        "SecretAccessKey": cred.secret_access_key,
        "SessionToken": cred.session_token,
        "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{expires.microsecond // 1000:03d}Z",
    }


def _duration(params: Mapping[str, str], *, default: int, maximum: int) -> float:
    raw = params.get("DurationSeconds")
    if raw is None:
        return float(default)
    if not raw.isdigit() or not 900 <= int(raw) <= maximum:
        raise _validation(
            f"1 validation error detected: Value '{raw}' at 'durationSeconds' failed to satisfy "
            f"constraint: Member must have value {'less' if raw.isdigit() and int(raw) > maximum else 'greater'} "
            f"than or equal to {maximum if raw.isdigit() and int(raw) > maximum else 900}"
        )
    return float(raw)


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        member = name[:1].lower() + name[1:]
        raise _validation(
            f"1 validation error detected: Value null at '{member}' failed to satisfy "
            "constraint: Member must not be null"
        )
    return value


def _validation(message: str) -> ApiError:
    return ApiError("ValidationError", message)
