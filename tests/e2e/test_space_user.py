"""``whoami`` in a space says ``sagemaker-user``, as on AWS, when the emulator runs as root and
is asked to (``SMCONNECT_EMULATOR_SPACE_USER``): through real OpenSSH (exec and a pty), scp
(SFTP) and ``smconnect cp`` (the transfer helper runs the system ``python3`` as that user)."""

from __future__ import annotations

import dataclasses
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.emulator.config import default_config
from bridge.emulator.runtime.space import LOGIN_USER
from bridge.emulator.runtime.space_user import USER_ENV

from .e2e_helpers import FAST_DELAYS, Stack, running_stack

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@pytest.fixture(scope="module")
def as_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        pwd.getpwnam(LOGIN_USER)
        existed = True
    except KeyError:
        existed = False
    os.environ[USER_ENV] = LOGIN_USER  # read by the in-process emulator at each app start
    try:
        config = dataclasses.replace(default_config(), pacing="unthrottled", delays=FAST_DELAYS)
        yield from running_stack(config, tmp_path_factory)
    finally:
        del os.environ[USER_ENV]
        if not existed:  # made by the emulator for this module: leave the machine as it was
            subprocess.run(["userdel", LOGIN_USER], check=False, capture_output=True)


@pytest.fixture(scope="module")
def home(as_user: Stack) -> Path:
    as_user.call("space.open", {"space": "demo", "endpoint_url": as_user.emu.endpoint_url})
    runs = sorted(as_user.emu.emulator.root.glob("*-demo-*"), key=lambda p: p.stat().st_mtime)
    return runs[-1] / "home" / LOGIN_USER


def _owner(path: Path) -> str:
    return pwd.getpwuid(path.stat().st_uid).pw_name


def test_commands_run_as_sagemaker_user(as_user: Stack, home: Path) -> None:
    done = as_user.ssh("sm-demo", "whoami; echo $HOME; touch made-by-ssh; python3 -c 'print(1)'")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().split() == [LOGIN_USER, str(home), "1"]
    assert _owner(home / "made-by-ssh") == LOGIN_USER
    assert _owner(home) == LOGIN_USER


def test_a_terminal_session_runs_as_sagemaker_user(as_user: Stack) -> None:
    done = as_user.ssh("-tt", "sm-demo", "id -un")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == LOGIN_USER


def test_scp_and_cp_write_files_sagemaker_user_owns(
    as_user: Stack, home: Path, tmp_path: Path
) -> None:
    src = tmp_path / "data.txt"
    src.write_text("payload\n")
    scp = subprocess.run(
        ["scp", "-F", str(as_user.ssh_config), "-o", "BatchMode=yes", str(src), "sm-demo:by-scp"],
        env=as_user.env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert scp.returncode == 0, scp.stderr
    assert (home / "by-scp").read_text() == "payload\n"
    assert _owner(home / "by-scp") == LOGIN_USER
    cp = as_user.smconnect("cp", "-r", str(tmp_path), "demo:by-cp", timeout=300)
    assert cp.returncode == 0, cp.stderr
    assert (home / "by-cp" / "data.txt").read_text() == "payload\n"
    assert _owner(home / "by-cp" / "data.txt") == LOGIN_USER
