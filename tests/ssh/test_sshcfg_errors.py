"""Failures end in one readable line and leave every file as it was."""

from __future__ import annotations

import ctypes
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bridge.ssh.config import SshConfig
from bridge.ssh.errors import (
    SshNotFoundError,
    UnsupportedPathError,
    UserConfigSyntaxError,
    UserConfigUnreadableError,
)
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import ConfigOptions

from .sshcfg_helpers import SPACES, write_user_config

ROOT = Path(__file__).resolve().parents[2]


def _drop_file_override_capabilities() -> None:
    """Make a root child obey file permissions: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
    from its bounding set before it execs (PR_CAPBSET_DROP)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_permission_denied_is_one_line_and_writes_nothing(home: Path, paths: SshPaths) -> None:
    original = b"Host other\n  User alice\n"
    write_user_config(paths.user_config, original, mode=0o000)
    before = sorted(p.name for p in paths.ssh_dir.iterdir())
    script = textwrap.dedent(
        f"""
        import json
        from pathlib import Path
        from bridge.ssh.aliases import SpaceRef
        from bridge.ssh.config import SshConfig
        from bridge.ssh.errors import SshConfigError
        from bridge.ssh.paths import SshPaths
        from bridge.ssh.render import ConfigOptions
        mgr = SshConfig(SshPaths.for_home(Path({str(home)!r})),
                        ConfigOptions(smconnect_command=("/opt/smconnect",)))
        try:
            mgr.install([SpaceRef("demo", "d-a")])
        except SshConfigError as exc:
            print(json.dumps([type(exc).__name__, str(exc)]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        preexec_fn=_drop_file_override_capabilities if os.geteuid() == 0 else None,
        check=True,
    )
    name, message = json.loads(proc.stdout)
    assert name == "UserConfigUnreadableError"
    assert message.startswith(f"cannot read {paths.user_config} (Permission denied)")
    assert "chmod 600" in message and "\n" not in message
    os.chmod(paths.user_config, 0o600)
    assert paths.user_config.read_bytes() == original
    assert sorted(p.name for p in paths.ssh_dir.iterdir()) == before


def test_directory_or_fifo_in_place_of_config(manager: SshConfig, paths: SshPaths) -> None:
    paths.user_config.mkdir(parents=True)
    with pytest.raises(UserConfigUnreadableError, match="not a regular file"):
        manager.install(SPACES)
    paths.user_config.rmdir()
    os.mkfifo(paths.user_config)  # opening it would block forever
    with pytest.raises(UserConfigUnreadableError, match="not a regular file"):
        manager.install(SPACES)
    assert not paths.smconnect_dir.exists()


def test_ssh_syntax_error_is_surfaced_with_ssh_s_own_words(
    manager: SshConfig, paths: SshPaths
) -> None:
    original = b"Host other\n  User alice\n  Bogusoption yes\n"
    write_user_config(paths.user_config, original)
    with pytest.raises(UserConfigSyntaxError) as exc:
        manager.install(SPACES)
    message = str(exc.value)
    assert message == (
        f"ssh reports an error in {paths.user_config} at line 3: "
        "Bad configuration option: bogusoption; "
        "fix it, then run `smconnect ssh-config install` again"
    )
    assert exc.value.line == 3 and exc.value.file == str(paths.user_config)
    assert paths.user_config.read_bytes() == original
    assert not paths.smconnect_dir.exists()
    assert list(paths.ssh_dir.glob("config.smconnect-backup-*")) == []


def test_error_in_a_file_the_user_includes(manager: SshConfig, paths: SshPaths) -> None:
    extra = paths.ssh_dir / "extra.conf"
    write_user_config(paths.user_config, f"Include {extra}\n".encode())
    extra.write_bytes(b"Host x\n  Port notanumber\n")
    with pytest.raises(UserConfigSyntaxError) as exc:
        manager.install(SPACES)
    assert exc.value.file == str(extra) and exc.value.line == 2
    assert "\n" not in str(exc.value)


def test_ssh_missing_from_path(paths: SshPaths, options: ConfigOptions) -> None:
    write_user_config(paths.user_config, b"Host other\n")
    mgr = SshConfig(paths, options, ssh_binary="ssh-not-installed-here")
    with pytest.raises(SshNotFoundError) as exc:
        mgr.install(SPACES)
    assert "not on PATH" in str(exc.value) and "\n" not in str(exc.value)
    assert paths.user_config.read_bytes() == b"Host other\n"
    assert not paths.smconnect_dir.exists()


def test_ssh_rejecting_the_result_rolls_everything_back(
    paths: SshPaths, options: ConfigOptions, tmp_path: Path
) -> None:
    """If ssh refuses the configuration after our writes, install undoes both of them. The
    trigger is an ssh wrapper that fails only for the alias the post-write check asks about."""
    wrapper = tmp_path / "ssh-wrapper"
    wrapper.write_text(
        "#!/bin/sh\n"
        'for a; do last="$a"; done\n'
        'if [ "$last" = sm-demo ]; then echo "$4: line 1: simulated failure" >&2; exit 255; fi\n'
        'exec ssh "$@"\n'
    )
    wrapper.chmod(0o755)
    original = b"Host other\n"
    write_user_config(paths.user_config, original)
    paths.smconnect_dir.mkdir(mode=0o700)
    paths.our_config.write_bytes(b"# stale\n")
    mgr = SshConfig(paths, options, ssh_binary=str(wrapper))
    with pytest.raises(UserConfigSyntaxError, match="simulated failure"):
        mgr.install(SPACES)
    assert paths.user_config.read_bytes() == original
    assert paths.our_config.read_bytes() == b"# stale\n"


def test_our_file_is_0600_even_if_someone_loosened_it(manager: SshConfig, paths: SshPaths) -> None:
    paths.smconnect_dir.mkdir(parents=True, mode=0o700)
    paths.our_config.write_bytes(b"# stale\n")
    os.chmod(paths.our_config, 0o666)
    manager.install(SPACES)  # ssh -G would refuse a group-writable Include ("Bad owner ...")
    assert stat.S_IMODE(paths.our_config.stat().st_mode) == 0o600


def test_paths_ssh_cannot_express_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedPathError, match="quote"):
        SshConfig(
            SshPaths.for_home(tmp_path / 'we"ird'),
            ConfigOptions(smconnect_command=("/opt/smconnect",)),
        ).install([])
    with pytest.raises(UnsupportedPathError):
        ConfigOptions(smconnect_command=("/opt/sm'connect\n",))
