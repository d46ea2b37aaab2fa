"""Our one Include in the user's ~/.ssh/config: first, byte-exact around it, reversible."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from bridge.ssh.config import SshConfig
from bridge.ssh.errors import ConcurrentModificationError
from bridge.ssh.include import MARKER, MARKER_CREATED, include_line
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import ConfigOptions

from .sshcfg_helpers import SPACES, write_user_config

USER_CONFIGS = {
    "hosts_match_comments": (
        b"# my config\n"
        b"ForwardAgent no\n"
        b"\n"
        b"Host other\n"
        b"    HostName other.example.com\n"
        b"    User alice  # trailing comment\n"
        b"\n"
        b'Match host "*.corp" exec "true"\n'
        b"    User bob\n"
        b"Host *\n"
        b"\tServerAliveInterval 5\n"
    ),
    "crlf": b"Host other\r\n  User alice\r\n\r\nHost *\r\n  Compression yes\r\n",
    "no_trailing_newline": b"Host other\n  User alice",
    "no_newline_at_all": b"# just a comment",
    "empty": b"",
    "latin1_comment": b"# caf\xe9 config, not UTF-8\nHost other\n  User alice\n",
    "blank_lines_only": b"\n\n\n",
}


def _installed_prefix(paths: SshPaths, eol: bytes = b"\n", created: bool = False) -> bytes:
    return (MARKER_CREATED if created else MARKER) + eol + include_line(paths) + eol


@pytest.mark.parametrize("name", sorted(USER_CONFIGS))
def test_install_prepends_and_remove_restores_exactly(
    name: str, manager: SshConfig, paths: SshPaths
) -> None:
    original = USER_CONFIGS[name]
    write_user_config(paths.user_config, original, mode=0o640)

    first = manager.install(SPACES)
    after = paths.user_config.read_bytes()
    eol = b"\r\n" if original.startswith(b"Host other\r\n") else b"\n"
    assert after == _installed_prefix(paths, eol) + original
    assert first.user_config_changed and first.our_config_changed
    assert stat.S_IMODE(paths.user_config.stat().st_mode) == 0o640

    second = manager.install(SPACES)
    assert paths.user_config.read_bytes() == after
    assert not second.user_config_changed and not second.our_config_changed
    assert second.backup is None

    removed = manager.remove()
    assert paths.user_config.read_bytes() == original
    assert stat.S_IMODE(paths.user_config.stat().st_mode) == 0o640
    assert removed.user_config_changed and not removed.user_config_deleted
    assert not paths.smconnect_dir.exists()


def test_missing_config_is_created_0600_and_removed_again(
    manager: SshConfig, paths: SshPaths
) -> None:
    manager.install([])
    assert stat.S_IMODE(paths.user_config.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.ssh_dir.stat().st_mode) == 0o700
    assert paths.user_config.read_bytes() == _installed_prefix(paths, created=True)
    assert stat.S_IMODE(paths.our_config.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.smconnect_dir.stat().st_mode) == 0o700
    result = manager.remove()
    assert result.user_config_deleted
    assert not paths.user_config.exists()
    assert list(paths.ssh_dir.iterdir()) == []


def test_created_file_the_user_added_to_is_kept(manager: SshConfig, paths: SshPaths) -> None:
    manager.install([])
    with open(paths.user_config, "ab") as f:
        f.write(b"Host mine\n  User me\n")
    manager.remove()
    assert paths.user_config.read_bytes() == b"Host mine\n  User me\n"


def test_include_below_a_host_line_is_moved_first(manager: SshConfig, paths: SshPaths) -> None:
    user = b"Host other\n  User alice\n"
    misplaced = user + MARKER + b"\n" + include_line(paths) + b"\n" + b"Host last\n  User x\n"
    write_user_config(paths.user_config, misplaced)
    assert not manager.show().include_first
    manager.install([])
    assert paths.user_config.read_bytes() == (
        _installed_prefix(paths) + user + b"Host last\n  User x\n"
    )
    assert manager.show().include_first


def test_backup_made_once_per_distinct_content_never_overwritten(
    manager: SshConfig, paths: SshPaths
) -> None:
    original = USER_CONFIGS["hosts_match_comments"]
    write_user_config(paths.user_config, original)
    backup = manager.install(SPACES).backup
    assert backup is not None
    assert backup.name == "config.smconnect-backup-20261125T120000Z"
    assert backup.read_bytes() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    # remove + install again: the content is the same, so the one backup serves.
    manager.remove()
    assert manager.install(SPACES).backup == backup
    manager.remove()

    # The user edits; the next install backs that up too, without touching the first backup
    # although the clock (fixed in this test) gives the same timestamp.
    edited = original + b"Host extra\n  User carol\n"
    paths.user_config.write_bytes(edited)
    second = manager.install(SPACES).backup
    assert second is not None and second != backup
    assert second.name == "config.smconnect-backup-20261125T120000Z-1"
    assert second.read_bytes() == edited
    assert backup.read_bytes() == original
    backups = sorted(p.name for p in paths.ssh_dir.glob("config.smconnect-backup-*"))
    assert backups == [backup.name, second.name]


def test_symlinked_config_is_written_through(
    manager: SshConfig, paths: SshPaths, tmp_path: Path
) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "ssh_config"
    original = b"Host other\n  User alice\n"
    target.write_bytes(original)
    os.chmod(target, 0o644)
    paths.ssh_dir.mkdir(mode=0o700)
    paths.user_config.symlink_to(target)

    manager.install(SPACES)
    assert paths.user_config.is_symlink()
    assert os.readlink(paths.user_config) == str(target)
    assert target.read_bytes() == _installed_prefix(paths) + original
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in dotfiles.iterdir()] == ["ssh_config"]  # no temp file left

    manager.remove()
    assert paths.user_config.is_symlink()
    assert target.read_bytes() == original


def test_concurrent_edit_between_read_and_write_is_refused(
    manager: SshConfig, paths: SshPaths
) -> None:
    write_user_config(paths.user_config, b"Host other\n  User alice\n")
    plan = manager.plan_install(SPACES)
    edited = b"Host other\n  User alice\nHost new\n  User dave\n"
    paths.user_config.write_bytes(edited)  # the user's editor saves meanwhile
    with pytest.raises(ConcurrentModificationError) as exc:
        manager.apply(plan)
    assert "nothing was written" in str(exc.value)
    assert "\n" not in str(exc.value)
    assert paths.user_config.read_bytes() == edited
    assert not paths.our_config.exists()
    assert list(paths.ssh_dir.glob("config.smconnect-backup-*")) == []
    # A fresh plan works.
    manager.install(SPACES)
    assert paths.user_config.read_bytes() == _installed_prefix(paths) + edited


def test_same_content_rewritten_by_an_editor_is_still_a_change(
    manager: SshConfig, paths: SshPaths
) -> None:
    write_user_config(paths.user_config, b"Host other\n")
    plan = manager.plan_install([])
    st = paths.user_config.stat()
    os.utime(paths.user_config, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with pytest.raises(ConcurrentModificationError):
        manager.apply(plan)


def test_owner_is_preserved(manager: SshConfig, paths: SshPaths) -> None:
    if os.geteuid() != 0:
        pytest.fail("this suite runs as root in CI; run it there to check ownership")
    write_user_config(paths.user_config, b"Host other\n")
    os.chown(paths.user_config, 65534, 65534)
    manager.install([])
    st = paths.user_config.stat()
    assert (st.st_uid, st.st_gid) == (65534, 65534)


def test_concurrent_smconnect_writers_serialise(
    manager: SshConfig, paths: SshPaths, options: ConfigOptions
) -> None:
    """The CLI and the daemon (here: threads with their own managers) lock the ssh directory,
    so none of them sees the other's write as a concurrent user edit."""
    original = USER_CONFIGS["hosts_match_comments"]
    write_user_config(paths.user_config, original)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        mgr = SshConfig(paths, options)
        try:
            for _ in range(3):
                mgr.install(SPACES[: i % 3 + 1])
                mgr.write_hosts(SPACES)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert paths.user_config.read_bytes() == _installed_prefix(paths) + original
    manager.remove()
    assert paths.user_config.read_bytes() == original
