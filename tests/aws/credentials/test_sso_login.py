"""``smconnect login`` for SSO profiles against the emulator's IAM Identity Center: the token
lands in the shared SSO cache in the AWS CLI's format, and plain boto3 uses it without us."""

from __future__ import annotations

import hashlib

from .cred_helpers import START_URL, Home

SSO_SESSION_CONFIG = f"""\
# my settings
[default]
region = us-east-1

[profile dev]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Dev
region = us-east-1

[sso-session corp]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_registration_scopes = sso:account:access
"""

LEGACY_CONFIG = f"""\
[profile old]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = ReadOnly
region = us-east-1
"""

CACHE_KEYS = {
    "startUrl",
    "region",
    "accessToken",
    "expiresAt",
    "clientId",
    "clientSecret",
    "registrationExpiresAt",
    "refreshToken",
}


def test_login_writes_the_shared_cache_that_plain_boto3_uses(home: Home) -> None:
    home.write_config(SSO_SESSION_CONFIG)
    code, err = home.login("--profile", "dev")
    assert code == 0, err
    assert "confirm that it shows the code" in err and "/device?user_code=" in err
    assert "signed in" in err

    token = home.cached_token("corp")  # sha1 of the sso-session name
    assert set(token) == CACHE_KEYS
    assert token["startUrl"] == START_URL and token["region"] == "us-east-1"
    assert token["expiresAt"].endswith("Z") and token["registrationExpiresAt"].endswith("Z")
    cache_file = home.sso_cache / (hashlib.sha1(b"corp").hexdigest() + ".json")
    assert cache_file.stat().st_mode & 0o777 == 0o600
    assert token["accessToken"] not in err and token["refreshToken"] not in err

    arn = home.caller_arn("dev")
    assert arn.startswith("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_")

    # A second login while the token is fresh does nothing.
    code, err = home.login("--profile", "dev", approve=False)
    assert code == 0 and "already signed in" in err


def test_legacy_profile_uses_the_start_url_as_cache_key(home: Home) -> None:
    home.write_config(LEGACY_CONFIG)
    code, err = home.login("--profile", "old")
    assert code == 0, err
    token = home.cached_token(START_URL)
    assert token["accessToken"]
    assert "AWSReservedSSO_ReadOnly_" in home.caller_arn("old")


def test_expired_access_token_is_refreshed_from_the_refresh_token(home: Home) -> None:
    home.write_config(SSO_SESSION_CONFIG)
    home.set_tokens(sso_access_token=2)
    code, err = home.login("--profile", "dev")
    assert code == 0, err
    first = home.cached_token("corp")
    home.advance_clock(2.2)  # the access token is now expired

    # botocore refreshes an sso-session token by itself: plain boto3, no smconnect.
    assert "AWSReservedSSO_Dev_" in home.caller_arn("dev")
    second = home.cached_token("corp")
    assert second["accessToken"] != first["accessToken"]
    assert home.issuer.calls["CreateToken.refresh_token"] >= 1

    # smconnect login renews from the refresh token too, without a new device flow.
    home.advance_clock(2.2)
    devices_before = home.issuer.calls["CreateToken.device_code"]
    code, err = home.login("--profile", "dev", approve=False)
    assert code == 0 and "renewed the sign-in" in err, err
    assert home.cached_token("corp")["accessToken"] != second["accessToken"]
    assert home.issuer.calls["CreateToken.device_code"] == devices_before


def test_login_errors_are_one_line(home: Home) -> None:
    home.write_config("[profile plain]\nregion = us-east-1\n")
    proc = home.smconnect("login", "--profile", "plain")
    assert proc.returncode == 4 and "Traceback" not in proc.stderr
    assert "smconnect configure --profile plain" in proc.stderr
    proc = home.smconnect("login", "--profile", "missing")
    assert proc.returncode == 4 and "is not defined" in proc.stderr
    home.write_config("[profile broken]\nsso_session = nowhere\n")
    proc = home.smconnect("login", "--profile", "broken")
    assert proc.returncode == 4 and "[sso-session nowhere]" in proc.stderr
