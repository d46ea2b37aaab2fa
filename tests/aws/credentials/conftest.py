"""Fixtures: a real emulator with an SSO portal and STS with MFA, and a private HOME per test
(see ``cred_helpers``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.emulator import EmulatorThread, start_in_thread

from .cred_helpers import LOG_ROOTS, SECRETS, Home, emulator_config


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with start_in_thread(emulator_config()) as handle:
        SECRETS.add(handle.env["AWS_SECRET_ACCESS_KEY"])
        yield handle
        SECRETS.update(s for s in handle.emulator.plane.issuer.issued_secrets if s)


@pytest.fixture
def home(tmp_path_factory: pytest.TempPathFactory, emu: EmulatorThread) -> Iterator[Home]:
    # Short: the daemon's unix socket lives under it (107-byte limit).
    root = tmp_path_factory.mktemp("h")
    h = Home.at(root, emu)
    try:
        yield h
    finally:
        h.stop_daemon()
        LOG_ROOTS.append(root)
