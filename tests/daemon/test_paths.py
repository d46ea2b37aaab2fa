"""Where the daemon lives by default, and the settings read from the environment."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from bridge import paths


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        paths.ENV_RUNTIME_DIR,
        paths.ENV_STATE_DIR,
        paths.ENV_TRANSPORT,
        paths.ENV_IDLE_TIMEOUT,
        "XDG_RUNTIME_DIR",
        "XDG_STATE_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_xdg_locations(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    clean_env.setenv("XDG_STATE_HOME", "/home/u/.state")
    p = paths.default_paths()
    assert p.socket == Path("/run/user/1000/smconnect/daemon.sock")
    assert p.log == Path("/home/u/.state/smconnect/daemon.log")


def test_fallback_locations(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("XDG_RUNTIME_DIR", "relative/is/ignored")
    p = paths.default_paths()
    assert p.runtime_dir == Path(tempfile.gettempdir()) / f"smconnect-{os.getuid()}"
    assert p.state_dir == Path.home() / ".local" / "state" / "smconnect"


def test_overrides_win(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    clean_env.setenv(paths.ENV_RUNTIME_DIR, "/tmp/r")
    clean_env.setenv(paths.ENV_STATE_DIR, "/tmp/s")
    assert paths.default_paths() == paths.DaemonPaths(Path("/tmp/r"), Path("/tmp/s"))


@pytest.mark.parametrize(
    ("raw", "expected"), [("", 600.0), ("1", 1.0), ("0.5", 0.5), ("-3", 600.0), ("x", 600.0)]
)
def test_idle_timeout(clean_env: pytest.MonkeyPatch, raw: str, expected: float) -> None:
    clean_env.setenv(paths.ENV_IDLE_TIMEOUT, raw)
    assert paths.idle_timeout() == expected


def test_transport(clean_env: pytest.MonkeyPatch) -> None:
    assert paths.transport_kind() == "unix"
    clean_env.setenv(paths.ENV_TRANSPORT, "TCP")
    assert paths.transport_kind() == "tcp"


def test_private_file_is_0600_and_replaces_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("untouched")
    (tmp_path / "daemon.tcp").symlink_to(target)
    paths.write_private_file(tmp_path / "daemon.tcp", '{"port": 1}')
    assert not (tmp_path / "daemon.tcp").is_symlink()
    assert (tmp_path / "daemon.tcp").read_text() == '{"port": 1}'
    assert target.read_text() == "untouched"
    assert (os.stat(tmp_path / "daemon.tcp").st_mode & 0o777) == 0o600
