"""Two emulators as two AWS accounts, each with its own static keys and spaces, and shells
(environments) that export one account's credentials, for the per-caller identity tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bridge.emulator import EmulatorThread
from bridge.emulator.config import (
    CredentialConfig,
    DelaysConfig,
    DomainConfig,
    EmulatorConfig,
    SpaceConfig,
)
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

__all__ = ["ACCOUNTS", "account_config", "daemon_cmdline", "shell", "world"]

# account id -> (access key id, secret, the one space only that account has)
ACCOUNTS = {
    "111111111111": ("AKIAIDENTITYAAAAAAA1", "identityTestSecretOfAccountA000000000001", "alpha"),
    "222222222222": ("AKIAIDENTITYBBBBBBB2", "identityTestSecretOfAccountB000000000002", "beta"),
}
EXPIRED_KEY = (
    "ASIAIDENTITYEXPIRED1",
    "identityTestSecretThatHasExpired00000003",
    "tokenOfAnExpiredSession0000000000004",
)


def account_config(account: str) -> EmulatorConfig:
    key, secret, space = ACCOUNTS[account]
    creds: tuple[CredentialConfig, ...] = (CredentialConfig(key, secret),)
    if account == "111111111111":
        expired_key, expired_secret, token = EXPIRED_KEY
        creds += (CredentialConfig(expired_key, expired_secret, token, expires_at=1.0),)
    # Fast app transitions and a Code Editor space (no Jupyter server): the tests are about
    # whose credentials the daemon uses, not how an app starts.
    return EmulatorConfig(
        pacing="unthrottled",
        delays=DelaysConfig(
            app_start=0.1, app_stop=0.1, space_update=0.1, start_session_failure_window=0.2
        ),
        account_id=account,
        credentials=creds,
        domains=(
            DomainConfig(
                f"d-{account[:11]}",
                f"domain-{space}",
                ("default-user",),
                (SpaceConfig(space, app_type="CodeEditor"),),
            ),
        ),
    )


def world(home: Path) -> Sandbox:
    """A private HOME whose environment holds no AWS credentials at all."""
    return Sandbox.create(
        home,
        {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"},
        extra={**FAST_DAEMON, "AWS_CONFIG_FILE": str(home / "no-config")},
    )


def shell(emu: EmulatorThread, **override: str) -> Mapping[str, str]:
    """What a shell that exported this emulator's account credentials holds."""
    return {**emu.env, **override}


def daemon_cmdline(sandbox: Sandbox) -> str:
    pid = sandbox.daemon_pid()
    assert pid is not None
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
