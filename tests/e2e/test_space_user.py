"""``whoami`` in a space says ``sagemaker-user``, as on AWS, when the emulator runs as root with
no override (the suite's ``SMCONNECT_EMULATOR_SPACE_USER=current`` is lifted here): through
real OpenSSH (exec and a pty), scp (SFTP), ``smconnect cp`` (the transfer helper runs the space's
``python3`` as that user), and a kernel of the space's Jupyter server and of CodeEditor's
on-demand one. Needs the space's Python that scripts/_space_venv.sh builds (or another that
``sagemaker-user`` can run, see bridge/emulator/runtime/space_python.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.emulator.config import default_config
from bridge.emulator.runtime.space import LOGIN_USER
from bridge.emulator.runtime.space_user import USER_ENV
from tests.daemon.jupyter.notebook import Notebook

from .e2e_helpers import FAST_DELAYS, Stack, running_stack

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@pytest.fixture(scope="module")
def as_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        pwd.getpwnam(LOGIN_USER)
        existed = True
    except KeyError:
        existed = False
    with pytest.MonkeyPatch.context() as env:
        env.delenv(USER_ENV, raising=False)  # read by the in-process emulator at each app start
        try:
            config = dataclasses.replace(default_config(), pacing="unthrottled", delays=FAST_DELAYS)
            yield from running_stack(config, tmp_path_factory)
        finally:
            if not existed:  # made by the emulator for this module: leave the machine as it was
                subprocess.run(["userdel", LOGIN_USER], check=False, capture_output=True)


def _space_home(stack: Stack, space: str) -> Path:
    runs = sorted(stack.emu.emulator.root.glob(f"*-{space}-*"), key=lambda p: p.stat().st_mtime)
    return runs[-1] / "home" / LOGIN_USER


@pytest.fixture(scope="module")
def home(as_user: Stack) -> Path:
    as_user.call("space.open", {"space": "demo", "endpoint_url": as_user.emu.endpoint_url})
    return _space_home(as_user, "demo")


def _owner(path: Path) -> str:
    return pwd.getpwuid(path.stat().st_uid).pw_name


def test_commands_run_as_sagemaker_user(as_user: Stack, home: Path) -> None:
    done = as_user.ssh(
        "sm-demo", "whoami; echo $HOME; touch made-by-ssh; python3 -c 'import getpass; print(1)'"
    )
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
    cp = as_user.smconnect("cp", "--json", "-r", str(tmp_path), "demo:by-cp", timeout=300)
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout)["method"] == "helper"  # python3 ran as that user, not SFTP
    assert (home / "by-cp" / "data.txt").read_text() == "payload\n"
    assert _owner(home / "by-cp" / "data.txt") == LOGIN_USER


async def _whoami_in_a_kernel(stack: Stack, space: str) -> list[str]:
    """Through the daemon's Jupyter URL: run a cell that says who runs it and makes a file."""
    params = {"space": space, "endpoint_url": stack.emu.endpoint_url}
    info = await asyncio.to_thread(stack.call, "jupyter.ensure", params)
    async with Notebook(info["url"], info["token"]) as nb:
        cell = await nb.execute("import getpass; open('by-kernel', 'w').close(); getpass.getuser()")
    return cell.results


async def test_the_space_jupyter_kernels_run_as_sagemaker_user(as_user: Stack, home: Path) -> None:
    assert await _whoami_in_a_kernel(as_user, "demo") == [repr(LOGIN_USER)]
    assert _owner(home / "by-kernel") == LOGIN_USER


async def test_on_demand_jupyter_runs_as_sagemaker_user(as_user: Stack) -> None:
    """CodeEditor: the daemon starts ``jupyter server`` over ssh, from the space's PATH."""
    assert await _whoami_in_a_kernel(as_user, "editor") == [repr(LOGIN_USER)]
    assert _owner(_space_home(as_user, "editor") / "by-kernel") == LOGIN_USER
