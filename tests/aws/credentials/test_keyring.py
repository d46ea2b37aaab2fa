"""``smconnect configure`` / ``credentials``: long-term keys in a real keyring backend (chosen
with PYTHON_KEYRING_BACKEND), ``credential_process`` in ~/.aws/config, MFA sessions cached."""

from __future__ import annotations

import json

from .cred_helpers import MFA_CODE, MFA_SERIAL, SECRETS, Home

KEY_ID = "AKIAEMULATOR00000001"  # the emulator's default long-term key
SECRET = "smconnectEmulatorSecretAccessKey00000000"
USER_CONFIG = """\
# keep this comment
[default]
region = us-east-1
output = json

[profile other]
region = eu-west-1
s3 =
    max_concurrent_requests = 4
"""


SECRETS.add(SECRET)  # typed by the user: no log may hold it


def _configure(home: Home, profile: str, *extra: str) -> None:
    proc = home.smconnect("configure", "--profile", profile, *extra, input=f"{KEY_ID}\n{SECRET}\n")
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stderr + proc.stdout


def test_configure_keeps_keys_in_the_keyring_and_sdks_use_them(home: Home) -> None:
    home.write_config(USER_CONFIG)
    _configure(home, "work", "--region", "us-east-1")

    text = home.aws_config.read_text()
    assert text.startswith(USER_CONFIG)  # nothing of the user's changed
    assert "[profile work]\n" in text and "credentials work\n" in text
    assert SECRET not in text and KEY_ID not in text
    assert not (home.root / ".aws" / "credentials").exists()
    backups = list(home.aws_config.parent.glob("config.smconnect-backup-*"))
    assert [b.read_text() for b in backups] == [USER_CONFIG]

    proc = home.smconnect("credentials", "work")
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout) == {
        "Version": 1,
        "AccessKeyId": KEY_ID,
        "SecretAccessKey": SECRET,
    }
    assert proc.stdout.count("\n") == 1

    # Plain boto3 runs the credential_process; no smconnect code in that process.
    assert home.caller_arn("work") == "arn:aws:iam::123456789012:user/smconnect-emulator"

    # Configuring again changes nothing in the file and makes no new backup.
    _configure(home, "work", "--region", "us-east-1")
    assert home.aws_config.read_text() == text
    assert len(list(home.aws_config.parent.glob("config.smconnect-backup-*"))) == 1


def test_configure_never_clobbers_another_credential_source(home: Home) -> None:
    sso = "[profile dev]\nsso_session = corp\nregion = us-east-1\n"
    home.write_config(sso)
    proc = home.smconnect("configure", "--profile", "dev", input=f"{KEY_ID}\n{SECRET}\n")
    assert proc.returncode == 4 and "--force" in proc.stderr and "sso_session" in proc.stderr
    assert home.aws_config.read_text() == sso
    _configure(home, "dev", "--force")
    text = home.aws_config.read_text()
    assert "sso_session" not in text and "region = us-east-1" in text and "credentials dev" in text

    creds = home.root / ".aws" / "credentials"
    creds.write_text(f"[shadow]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = x\n")
    proc = home.smconnect("configure", "--profile", "shadow", input=f"{KEY_ID}\n{SECRET}\n")
    assert proc.returncode == 4 and "delete that section" in proc.stderr


def test_no_usable_keyring_names_the_fix(home: Home) -> None:
    home.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    proc = home.smconnect("configure", "--profile", "work", input=f"{KEY_ID}\n{SECRET}\n")
    assert proc.returncode == 4 and "Traceback" not in proc.stderr
    assert "PYTHON_KEYRING_BACKEND" in proc.stderr and "keyring diagnose" in proc.stderr
    assert not home.aws_config.exists()


def test_mfa_profile_prompts_once_and_reuses_the_cached_session(home: Home) -> None:
    _configure(home, "mfa", "--mfa-serial", MFA_SERIAL, "--region", "us-east-1")

    # Without a terminal and without a session, the SDK gets a clear "sign in" error.
    proc = home.smconnect("credentials", "mfa")
    assert proc.returncode == 4 and proc.stdout == ""
    assert "smconnect login --profile mfa" in proc.stderr

    proc = home.smconnect("login", "--profile", "mfa", input="000000\n")
    assert proc.returncode == 4 and "MultiFactorAuthentication failed" in proc.stderr
    proc = home.smconnect("login", "--profile", "mfa", input=f"{MFA_CODE}\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("MFA code for") == 1
    assert home.issuer.calls["GetSessionToken"] == 1

    first = json.loads(home.smconnect("credentials", "mfa").stdout)
    assert first["AccessKeyId"].startswith("ASIA") and first["Expiration"].endswith("Z")
    SECRETS.update((first["SecretAccessKey"], first["SessionToken"]))
    # Two "connections" through plain boto3: both reuse the keyring-cached session.
    assert home.caller_arn("mfa") == "arn:aws:iam::123456789012:user/smconnect-emulator"
    assert home.caller_arn("mfa") == "arn:aws:iam::123456789012:user/smconnect-emulator"
    assert home.issuer.calls["GetSessionToken"] == 1
    assert json.loads(home.smconnect("credentials", "mfa").stdout) == first


def test_role_profile_renews_its_session_by_itself(home: Home) -> None:
    # 60 s: the first use (two credential_process runs) must stay clear of the last
    # MIN_SESSION_LEFT seconds on a loaded machine; the clock is then moved, not waited on.
    home.set_tokens(session_credentials=60)
    _configure(
        home, "role", "--role-arn", "arn:aws:iam::123456789012:role/Dev", "--region", "us-east-1"
    )
    arn = home.caller_arn("role")
    assert arn.startswith("arn:aws:sts::123456789012:assumed-role/Dev/smconnect-")
    assert home.issuer.calls["AssumeRole"] == 1
    home.advance_clock(60.2)  # the cached session expired: the next use assumes the role again
    assert home.caller_arn("role") == arn
    assert home.issuer.calls["AssumeRole"] == 2
