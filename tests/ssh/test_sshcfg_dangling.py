"""Defect 9 of issue 15: a dangling ~/.ssh/config symlink, and an install that fails midway."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bridge.ssh.config import SshConfig
from bridge.ssh.errors import SshConfigError
from bridge.ssh.paths import SshPaths

from .sshcfg_helpers import SPACES, write_user_config


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_dangling_symlink_is_refused_and_nothing_is_created(
    manager: SshConfig, paths: SshPaths, home: Path
) -> None:
    target = home / "dotfiles" / "ssh" / "config"
    paths.ssh_dir.mkdir(mode=0o700)
    paths.user_config.symlink_to(target)
    before = _tree(home)
    with pytest.raises(SshConfigError) as exc:
        manager.install(SPACES)
    message = str(exc.value)
    assert "\n" not in message
    assert str(target.parent) in message and "does not exist" in message
    assert not (home / "dotfiles").exists()
    assert _tree(home) == before  # no smconnect dir, no backup, the link untouched
    assert paths.user_config.is_symlink()


def test_symlink_into_an_existing_directory_is_written_through(
    manager: SshConfig, paths: SshPaths, home: Path
) -> None:
    target = home / "dotfiles" / "config"
    target.parent.mkdir()
    paths.ssh_dir.mkdir(mode=0o700)
    paths.user_config.symlink_to(target)
    manager.install(SPACES)
    assert paths.user_config.is_symlink()
    assert b"Include" in target.read_bytes()
    manager.remove()
    assert not target.exists()  # smconnect created it, so remove takes it out again
    assert paths.user_config.is_symlink()


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr")
def test_immutable_config_fails_cleanly_and_leaves_nothing_behind(
    manager: SshConfig, paths: SshPaths
) -> None:
    write_user_config(paths.user_config, b"Host other\n    User me\n")
    before = _tree(paths.ssh_dir)
    if subprocess.run(["chattr", "+i", str(paths.user_config)], check=False).returncode != 0:
        pytest.skip("this file system or user cannot make a file immutable")
    try:
        with pytest.raises(SshConfigError) as exc:
            manager.install(SPACES)
        assert "\n" not in str(exc.value)
        assert _tree(paths.ssh_dir) == before  # no backup, no smconnect dir
        assert paths.user_config.read_bytes() == b"Host other\n    User me\n"
    finally:
        subprocess.run(["chattr", "-i", str(paths.user_config)], check=False)
