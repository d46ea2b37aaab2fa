"""Fixtures: two emulators as two accounts, and a private HOME with no credentials of its own
(see ``identity_helpers``); every secret they use is registered for the session's leak scan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.testing.sandbox import Sandbox
from tests.support.log_scan import LOG_ROOTS, SECRETS

from .identity_helpers import ACCOUNTS, EXPIRED_KEY, account_config, world


@pytest.fixture
def accounts() -> Iterator[tuple[EmulatorThread, EmulatorThread]]:
    SECRETS.update(secret for _, secret, _ in ACCOUNTS.values())
    SECRETS.update(EXPIRED_KEY[1:])
    a, b = sorted(ACCOUNTS)
    with start_in_thread(account_config(a)) as one, start_in_thread(account_config(b)) as two:
        yield one, two


@pytest.fixture
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("id")  # short: the daemon's unix socket lives under it
    box = world(root)
    try:
        yield box
    finally:
        box.stop_daemon()
        LOG_ROOTS.append(root)
