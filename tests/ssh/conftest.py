"""Fixtures: a throwaway home per test (the real ~/.ssh is never read or written)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.ssh.config import SshConfig
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import ConfigOptions

SMCONNECT = "/opt/smconnect/bin/smconnect"
FIXED_NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def paths(home: Path) -> SshPaths:
    return SshPaths.for_home(home)


@pytest.fixture
def options() -> ConfigOptions:
    return ConfigOptions(smconnect_command=(SMCONNECT,))


@pytest.fixture
def manager(paths: SshPaths, options: ConfigOptions) -> SshConfig:
    return SshConfig(paths, options, clock=lambda: FIXED_NOW)
