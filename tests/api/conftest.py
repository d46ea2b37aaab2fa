"""One emulator and one daemon per module, and this process's environment set to the sandbox's
for each test, so the API (as a user's script would) autostarts and talks to that daemon."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator

import pytest

from bridge.emulator import start_in_thread
from bridge.emulator.config import (
    DEFAULT_DOMAIN_ID,
    CredentialConfig,
    SpaceConfig,
    default_config,
)
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

from .api_helpers import EXPIRED_KEY, EXPIRED_SECRET, EXPIRED_TOKEN, FAST_DELAYS, ROTATING


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    base = default_config()
    domain = base.domains[0]
    assert domain.id == DEFAULT_DOMAIN_ID
    config = dataclasses.replace(
        base,
        pacing="unthrottled",
        delays=FAST_DELAYS,
        credentials=(
            *base.credentials,
            CredentialConfig(
                EXPIRED_KEY,
                EXPIRED_SECRET,
                session_token=EXPIRED_TOKEN,
                expires_at=time.time() - 5,
            ),
        ),
        domains=(
            dataclasses.replace(
                domain, spaces=(*domain.spaces, SpaceConfig(ROTATING, app_type="CodeEditor"))
            ),
        ),
    )
    with start_in_thread(config) as emulator:
        box = Sandbox.create(
            tmp_path_factory.mktemp("home"), emulator.env, extra=FAST_DAEMON, emulator=emulator
        )
        aws = box.home / ".aws"
        aws.mkdir(mode=0o700)
        (aws / "credentials").write_text(
            f"[expired]\naws_access_key_id = {EXPIRED_KEY}\n"
            f"aws_secret_access_key = {EXPIRED_SECRET}\naws_session_token = {EXPIRED_TOKEN}\n"
        )
        try:
            yield box
        finally:
            box.stop_daemon()


@pytest.fixture(autouse=True)
def in_sandbox(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """This process runs as a script in the sandbox would: its HOME, daemon dirs, AWS env."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "SMCONNECT_")) and key not in sandbox.env:
            monkeypatch.delenv(key)
    for key, value in sandbox.env.items():
        monkeypatch.setenv(key, value)
    return sandbox
