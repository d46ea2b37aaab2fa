"""IAM Identity Center as the SDKs reach it: the sso-oidc device authorization flow
(RegisterClient, StartDeviceAuthorization, CreateToken by device code or refresh token) and the
sso portal's GetRoleCredentials. Both are rest-json and unsigned (the bearer token is the
credential); errors carry ``x-amzn-ErrorType`` and, for sso-oidc, the OAuth ``error`` field.

A small verification page (``/device``) lets a person approve a sign-in in a browser when the
emulator runs for a demo; tests approve through ``Issuer.approve_device``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bridge.emulator.control.errors import ApiError
from bridge.emulator.control.issuer import Issuer

_OAUTH_ERRORS = {
    "AuthorizationPendingException": "authorization_pending",
    "SlowDownException": "slow_down",
    "ExpiredTokenException": "expired_token",
    "AccessDeniedException": "access_denied",
    "InvalidClientException": "invalid_client",
    "InvalidGrantException": "invalid_grant",
    "InvalidRequestException": "invalid_request",
    "UnsupportedGrantTypeException": "unsupported_grant_type",
}


@dataclass(frozen=True)
class RestCall:
    body: Mapping[str, Any]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    base_url: str  # how the caller reached us, for the verification URI
    account_id: str


RestHandler = Callable[[Issuer, RestCall], dict[str, Any]]


def register_client(issuer: Issuer, call: RestCall) -> dict[str, Any]:
    _require(call.body, "clientName", "clientType")
    client = issuer.register_client()
    return {
        "clientId": client.client_id,
        "clientSecret": client.client_secret,
        "clientIdIssuedAt": int(issuer.clock.time()),
        "clientSecretExpiresAt": int(client.expires_at),
    }


def start_device_authorization(issuer: Issuer, call: RestCall) -> dict[str, Any]:
    _require(call.body, "clientId", "clientSecret", "startUrl")
    client = issuer.client(call.body["clientId"], call.body["clientSecret"])
    grant = issuer.start_device(client, str(call.body["startUrl"]))
    uri = f"{call.base_url}/device"
    return {
        "deviceCode": grant.device_code,
        "userCode": grant.user_code,
        "verificationUri": uri,
        "verificationUriComplete": f"{uri}?user_code={quote(grant.user_code)}",
        "expiresIn": max(1, round(grant.expires_at - issuer.clock.time())),
        "interval": max(1, round(grant.interval)),
    }


def create_token(issuer: Issuer, call: RestCall) -> dict[str, Any]:
    _require(call.body, "clientId", "clientSecret", "grantType")
    client = issuer.client(call.body["clientId"], call.body["clientSecret"])
    grant_type = call.body["grantType"]
    if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
        _require(call.body, "deviceCode")
        issuer.calls["CreateToken.device_code"] += 1
        return issuer.token_for_device(client, str(call.body["deviceCode"]))
    if grant_type == "refresh_token":
        _require(call.body, "refreshToken")
        issuer.calls["CreateToken.refresh_token"] += 1
        return issuer.token_for_refresh(client, str(call.body["refreshToken"]))
    raise ApiError("UnsupportedGrantTypeException", f"Unsupported grant type: {grant_type}")


def get_role_credentials(issuer: Issuer, call: RestCall) -> dict[str, Any]:
    user = issuer.user_for_access_token(call.headers.get("x-amz-sso_bearer_token"))
    role, account = call.query.get("role_name"), call.query.get("account_id")
    if not role or not account:
        raise ApiError("InvalidRequestException", "role_name and account_id are required")
    if account != call.account_id:
        raise ApiError("ForbiddenException", "No access", 403)
    arn = f"arn:aws:sts::{account}:assumed-role/AWSReservedSSO_{role}_emulator/{user}"
    cred = issuer.issue(arn, issuer.tokens.role_credentials)
    assert cred.session_token is not None and cred.expires_at is not None
    return {
        "roleCredentials": {
            "accessKeyId": cred.access_key_id,
            "secretAccessKey": cred.secret_access_key,
            "sessionToken": cred.session_token,
            "expiration": int(cred.expires_at * 1000),
        }
    }


OPERATIONS: dict[tuple[str, str], tuple[str, RestHandler]] = {
    ("POST", "/client/register"): ("RegisterClient", register_client),
    ("POST", "/device_authorization"): ("StartDeviceAuthorization", start_device_authorization),
    ("POST", "/token"): ("CreateToken", create_token),
    ("GET", "/federation/credentials"): ("GetRoleCredentials", get_role_credentials),
}


def rest_response(data: Mapping[str, Any]) -> web.Response:
    return web.json_response(dict(data))


def rest_error(error: ApiError) -> web.Response:
    body: dict[str, Any] = {"message": error.message}
    oauth = _OAUTH_ERRORS.get(error.code)
    if oauth is not None:
        body = {"error": oauth, "error_description": error.message}
    return web.Response(
        status=error.status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "x-amzn-ErrorType": error.code},
    )


def verification_page(issuer: Issuer, user_code: str, approved: bool) -> web.Response:
    """The browser side of a sign-in: one button that approves the code shown."""
    code = html.escape(user_code)
    if approved:
        text = f"<p>Request {code} approved. You can close this window.</p>"
    elif user_code in issuer.pending_user_codes():
        text = (
            f'<form method="post"><p>Allow the request with code <b>{code}</b>?</p>'
            f'<input type="hidden" name="user_code" value="{code}">'
            '<button type="submit">Allow</button></form>'
        )
    else:
        text = "<p>No pending sign-in request has that code.</p>"
    page = f"<!doctype html><title>smconnect emulator sign-in</title>{text}"
    return web.Response(text=page, content_type="text/html")


def _require(body: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if not body.get(name):
            raise ApiError("InvalidRequestException", f"{name} is required")
