"""Two AWS accounts as two emulators, reached through profiles ``a`` and ``b`` of one private
``~/.aws`` (``endpoint_url`` in each profile, its own static keys in ``~/.aws/credentials``),
each with a space named ``demo``: the setup of issue 13's several-accounts tests."""

from __future__ import annotations

from pathlib import Path

from bridge.emulator import EmulatorThread
from bridge.emulator.config import CredentialConfig, DomainConfig, EmulatorConfig, SpaceConfig

from .cli_helpers import FAST, Cli

__all__ = ["PROFILES", "account_config", "add_default_profile", "write_profiles"]

PROFILES = ("a", "b")


def _key(profile: str) -> CredentialConfig:
    letter = profile.upper()
    return CredentialConfig(
        f"AKIAACCOUNT{letter}0000001", f"account{letter}SecretAccessKey000000000"
    )


def account_config(profile: str, account_id: str) -> EmulatorConfig:
    """One account: its own keys and account id, and a CodeEditor space ``demo``."""
    return EmulatorConfig(
        account_id=account_id,
        delays=FAST,
        credentials=(_key(profile),),
        domains=(
            DomainConfig(
                f"d-account{profile}0001",
                f"account-{profile}",
                ("user",),
                (SpaceConfig("demo", app_type="CodeEditor"),),
            ),
        ),
    )


def write_profiles(cli: Cli, emulators: dict[str, EmulatorThread]) -> None:
    """``~/.aws/config`` and ``~/.aws/credentials`` with one profile per emulator, and the
    environment pointing at them (and at nothing else: no default credentials)."""
    aws = cli.home / ".aws"
    aws.mkdir(mode=0o700, exist_ok=True)
    config = credentials = ""
    for profile, emu in emulators.items():
        key = _key(profile)
        config += f"[profile {profile}]\nregion = us-east-1\nendpoint_url = {emu.endpoint_url}\n\n"
        credentials += (
            f"[{profile}]\naws_access_key_id = {key.access_key_id}\n"
            f"aws_secret_access_key = {key.secret_access_key}\n\n"
        )
    _write(aws / "config", config)
    _write(aws / "credentials", credentials)
    cli.env.update(
        AWS_CONFIG_FILE=str(aws / "config"), AWS_SHARED_CREDENTIALS_FILE=str(aws / "credentials")
    )


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def add_default_profile(cli: Cli, emulator: EmulatorThread, profile: str) -> None:
    """A ``[default]`` profile (the default chain: no ``--profile`` needed) for the account
    ``profile`` is in."""
    key = _key(profile)
    aws = cli.home / ".aws"
    with (aws / "config").open("a") as config:
        config.write(f"[default]\nregion = us-east-1\nendpoint_url = {emulator.endpoint_url}\n")
    with (aws / "credentials").open("a") as credentials:
        credentials.write(
            f"[default]\naws_access_key_id = {key.access_key_id}\n"
            f"aws_secret_access_key = {key.secret_access_key}\n"
        )
