"""The emulator's identity services, driven by plain boto3: sso-oidc device flow and refresh,
sso GetRoleCredentials, sts AssumeRole / GetSessionToken with MFA, and expiry of what it issued."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import MfaDeviceConfig, TokensConfig, default_config

MFA_SERIAL = "arn:aws:iam::123456789012:mfa/alice"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
START_URL = "https://emulator.awsapps.com/start"
LIFETIME = 120  # of tokens and credentials; they end when the test moves the clock past it


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    config = replace(
        default_config(),
        tokens=TokensConfig(
            sso_access_token=LIFETIME, role_credentials=LIFETIME, session_credentials=LIFETIME
        ),
        mfa_devices=(MfaDeviceConfig(MFA_SERIAL, "123456"),),
    )
    with start_in_thread(config) as handle:
        yield handle


def _unsigned(emu: EmulatorThread, service: str) -> Any:
    return boto3.Session(region_name="us-east-1").client(
        service,
        endpoint_url=emu.endpoint_url,
        config=NO_RETRY.merge(Config(signature_version=UNSIGNED)),
    )


def _signed(
    emu: EmulatorThread, service: str, key: str, secret: str, token: str | None = None
) -> Any:
    return boto3.Session(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name="us-east-1",
    ).client(service, endpoint_url=emu.endpoint_url, config=NO_RETRY)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_device_flow_then_refresh_then_role_credentials(emu: EmulatorThread) -> None:
    oidc = _unsigned(emu, "sso-oidc")
    client = oidc.register_client(clientName="test", clientType="public")
    device = oidc.start_device_authorization(
        clientId=client["clientId"], clientSecret=client["clientSecret"], startUrl=START_URL
    )
    assert device["verificationUriComplete"].startswith(emu.endpoint_url + "/device?user_code=")
    grant = {
        "clientId": client["clientId"],
        "clientSecret": client["clientSecret"],
        "grantType": "urn:ietf:params:oauth:grant-type:device_code",
        "deviceCode": device["deviceCode"],
    }
    with pytest.raises(ClientError) as pending:
        oidc.create_token(**grant)
    assert _code(pending) == "AuthorizationPendingException"
    assert pending.value.response["error"] == "authorization_pending"
    with pytest.raises(ClientError) as slow:
        oidc.create_token(**grant)  # polled again before the interval
    assert _code(slow) == "SlowDownException"

    # Approve through the verification page, as a person in a browser would.
    form = urllib.parse.urlencode({"user_code": device["userCode"]}).encode()
    with urllib.request.urlopen(emu.endpoint_url + "/device", data=form) as page:
        assert b"approved" in page.read()
    token = oidc.create_token(**grant)
    assert token["expiresIn"] == LIFETIME and token["refreshToken"]

    sso = _unsigned(emu, "sso")
    creds = sso.get_role_credentials(
        roleName="Dev", accountId="123456789012", accessToken=token["accessToken"]
    )["roleCredentials"]
    sts = _signed(emu, "sts", creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"])
    assert sts.get_caller_identity()["Arn"].startswith(
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_"
    )
    with pytest.raises(ClientError) as forbidden:
        sso.get_role_credentials(
            roleName="Dev", accountId="999999999999", accessToken=token["accessToken"]
        )
    assert _code(forbidden) == "ForbiddenException"

    emu.call(lambda: _async(emu.emulator.plane.issuer.clock.advance, LIFETIME + 0.1))  # all expired
    with pytest.raises(ClientError) as expired:
        sts.get_caller_identity()
    assert _code(expired) == "ExpiredToken"
    with pytest.raises(ClientError) as unauthorized:
        sso.get_role_credentials(
            roleName="Dev", accountId="123456789012", accessToken=token["accessToken"]
        )
    assert _code(unauthorized) == "UnauthorizedException"

    refreshed = oidc.create_token(
        clientId=client["clientId"],
        clientSecret=client["clientSecret"],
        grantType="refresh_token",
        refreshToken=token["refreshToken"],
    )
    assert refreshed["accessToken"] != token["accessToken"]
    sso.get_role_credentials(
        roleName="Dev", accountId="123456789012", accessToken=refreshed["accessToken"]
    )
    with pytest.raises(ClientError) as reused:  # refresh tokens rotate
        oidc.create_token(
            clientId=client["clientId"],
            clientSecret=client["clientSecret"],
            grantType="refresh_token",
            refreshToken=token["refreshToken"],
        )
    assert _code(reused) == "InvalidGrantException"


def test_denied_and_bad_client(emu: EmulatorThread) -> None:
    oidc = _unsigned(emu, "sso-oidc")
    client = oidc.register_client(clientName="test", clientType="public")
    with pytest.raises(ClientError) as bad:
        oidc.start_device_authorization(
            clientId=client["clientId"], clientSecret="nope", startUrl=START_URL
        )
    assert _code(bad) == "InvalidClientException"
    device = oidc.start_device_authorization(
        clientId=client["clientId"], clientSecret=client["clientSecret"], startUrl=START_URL
    )
    emu.call(lambda: _async(emu.emulator.plane.issuer.deny_device, device["userCode"]))
    with pytest.raises(ClientError) as denied:
        oidc.create_token(
            clientId=client["clientId"],
            clientSecret=client["clientSecret"],
            grantType="urn:ietf:params:oauth:grant-type:device_code",
            deviceCode=device["deviceCode"],
        )
    assert _code(denied) == "AccessDeniedException"


def test_get_session_token_and_assume_role_with_mfa(emu: EmulatorThread) -> None:
    env = emu.env
    sts = _signed(emu, "sts", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    with pytest.raises(ClientError) as wrong:
        sts.get_session_token(SerialNumber=MFA_SERIAL, TokenCode="000000")
    assert _code(wrong) == "AccessDenied"
    assert "MultiFactorAuthentication failed" in str(wrong.value)
    session = sts.get_session_token(SerialNumber=MFA_SERIAL, TokenCode="123456")["Credentials"]
    temp = _signed(
        emu, "sts", session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
    )
    assert temp.get_caller_identity()["Account"] == "123456789012"
    with pytest.raises(ClientError) as nested:
        temp.get_session_token()
    assert _code(nested) == "AccessDenied"
    with pytest.raises(ClientError) as no_token:  # the session token is part of the credential
        _signed(
            emu, "sts", session["AccessKeyId"], session["SecretAccessKey"]
        ).get_caller_identity()
    assert _code(no_token) == "InvalidClientTokenId"

    role = sts.assume_role(
        RoleArn="arn:aws:iam::123456789012:role/Dev",
        RoleSessionName="alice",
        SerialNumber=MFA_SERIAL,
        TokenCode="123456",
        DurationSeconds=900,
    )
    assert role["AssumedRoleUser"]["Arn"] == "arn:aws:sts::123456789012:assumed-role/Dev/alice"
    now = emu.call(lambda: _async(emu.emulator.plane.issuer.clock.time))  # earlier tests moved it
    lifetime = role["Credentials"]["Expiration"].timestamp() - now
    assert 0 < lifetime <= LIFETIME + 0.5  # capped by tokens.session_credentials
    with pytest.raises(ClientError) as other_account:
        sts.assume_role(RoleArn="arn:aws:iam::999999999999:role/Dev", RoleSessionName="alice")
    assert _code(other_account) == "AccessDenied"


async def _async(fn: Any, *args: Any) -> Any:
    return fn(*args)
