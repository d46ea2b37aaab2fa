"""Which OS user a space's sessions run as, and with which Python: ``sagemaker-user`` by default
as root, with the first interpreter that user can run with the space's packages; the emulator's
own user, with one warning naming cause and fix, when there is none (forced here with the
probe's test knob) or when the home lies where that user may not go; the overrides."""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest
import pytest_asyncio

from bridge.emulator.runtime import SpaceRuntime
from bridge.emulator.runtime.space import LOGIN_USER
from bridge.emulator.runtime.space_python import PYTHON_ENV, SPACE_VENV, space_python
from bridge.emulator.runtime.space_user import (
    CURRENT,
    PROBE_FAIL_ENV,
    USER_ENV,
    blocked_folder,
    space_user_from_env,
    warned,
)

from .runtime_helpers import ssh_connect, started

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def default(monkeypatch: pytest.MonkeyPatch) -> None:
    """No override: the suite's ``current`` lifted, the warning not yet given."""
    for name in (USER_ENV, PROBE_FAIL_ENV, PYTHON_ENV):
        monkeypatch.delenv(name, raising=False)
    warned.discard(LOGIN_USER)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@ROOT_ONLY
def test_root_runs_sessions_as_sagemaker_user_with_a_python_it_can_run(
    default: None, caplog: pytest.LogCaptureFixture
) -> None:
    """On the dev/CI box the emulator's interpreter is under /root (mode 700): the space gets
    another one (scripts/_space_venv.sh builds it), not the fallback."""
    with caplog.at_level(logging.WARNING):
        user = space_user_from_env(LOGIN_USER)
    assert _warnings(caplog) == []
    assert user is not None and user.name == LOGIN_USER and user.python is not None


@ROOT_ONLY
def test_a_space_python_override_comes_first_and_a_bad_one_is_named(
    default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = pwd.getpwnam(LOGIN_USER) if _exists(LOGIN_USER) else None
    if entry is None:
        space_user_from_env(LOGIN_USER)  # creates the account
        entry = pwd.getpwnam(LOGIN_USER)
    monkeypatch.setenv(PYTHON_ENV, "/nonexistent/python3")
    choice = space_python(entry.pw_uid, entry.pw_gid)
    assert choice.failures[0] == "/nonexistent/python3: No such file or directory"
    assert choice.python is not None and choice.python != "/nonexistent/python3"
    monkeypatch.setenv(PYTHON_ENV, choice.python)
    assert space_python(entry.pw_uid, entry.pw_gid).python == choice.python
    assert space_python(entry.pw_uid, entry.pw_gid).failures == ()


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@ROOT_ONLY
def test_asking_for_the_user_skips_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_ENV, LOGIN_USER)
    monkeypatch.setenv(PROBE_FAIL_ENV, "1")
    user = space_user_from_env(LOGIN_USER, home=Path("/root/unreachable"))
    assert user is not None and user.name == LOGIN_USER and user.python is None


@ROOT_ONLY
def test_an_unusable_interpreter_falls_back_to_the_current_user_with_one_warning(
    default: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(PROBE_FAIL_ENV, "1")
    with caplog.at_level(logging.WARNING):
        assert space_user_from_env(LOGIN_USER) is None
        assert space_user_from_env(LOGIN_USER) is None
    warnings = _warnings(caplog)
    assert len(warnings) == 1  # once per process, not per app start
    assert USER_ENV in warnings[0] and PROBE_FAIL_ENV in warnings[0]


@ROOT_ONLY
def test_a_home_that_user_may_not_reach_falls_back_with_one_warning(
    default: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """pytest's temp folders are 0700 root: a space rooted there cannot be handed over."""
    home = tmp_path / "space" / "home" / LOGIN_USER
    home.mkdir(parents=True)
    passable = (tmp_path, tmp_path / "space", home.parent)
    entry = pwd.getpwnam(LOGIN_USER) if _exists(LOGIN_USER) else None
    uid, gid = (entry.pw_uid, entry.pw_gid) if entry else (4_242_424, 4_242_424)
    folder = blocked_folder(home, uid, gid, passable)
    assert folder is not None  # /tmp/pytest-of-root or above
    with caplog.at_level(logging.WARNING):
        assert space_user_from_env(LOGIN_USER, home=home, passable=passable) is None
    (warning,) = _warnings(caplog)
    assert f"under {folder} (mode 0700)" in warning and "TMPDIR" in warning and USER_ENV in warning


def test_blocked_folder_names_the_first_folder_a_user_may_not_search() -> None:
    top = Path(tempfile.mkdtemp())  # 0700, this process's
    try:
        home = top / "space" / "home"
        home.mkdir(parents=True, mode=0o755)
        other = os.getuid() + 4_242_424
        assert blocked_folder(home, other, other) == top
        assert blocked_folder(home, other, other, passable={top}) is None
        assert blocked_folder(home, os.getuid(), os.getgid()) is None  # the owner's x bit
        os.chmod(top / "space", 0o700)
        assert blocked_folder(home, other, other, passable={top}) == top / "space"
    finally:
        shutil.rmtree(top)


def test_current_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_ENV, CURRENT)
    monkeypatch.delenv(PROBE_FAIL_ENV, raising=False)
    assert space_user_from_env(LOGIN_USER) is None


def test_the_install_script_builds_the_venv_the_emulator_looks_for() -> None:
    script = (REPO / "scripts" / "_space_venv.sh").read_text()
    assert f'SPACE_VENV="${{1:-{SPACE_VENV}}}"' in script
    assert 'bash "$ROOT/scripts/_space_venv.sh"' in (REPO / "scripts" / "_env.sh").read_text()


@pytest.fixture
def passable_root() -> Iterator[Path]:
    """A space root as the emulator makes it: in a 0700 mkdtemp folder of the system's /tmp."""
    top = Path(tempfile.mkdtemp(prefix="smconnect-test-"))
    try:
        yield top / "space"
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest_asyncio.fixture
async def as_user(default: None, passable_root: Path) -> AsyncIterator[SpaceRuntime]:
    runtime = SpaceRuntime(space_name="demo-user", app_type="JupyterLab", root=passable_root)
    async with started(runtime):
        yield runtime


XSRF = "0123456789abcdef"


@ROOT_ONLY
async def test_sessions_jupyter_and_kernels_run_as_sagemaker_user(as_user: SpaceRuntime) -> None:
    user = as_user.user
    assert user is not None and user.python is not None and as_user.python == user.python
    async with await ssh_connect(as_user) as conn:
        done = await conn.run("whoami; command -v python3; touch made", check=True)
    assert done.stdout == f"{LOGIN_USER}\n{Path(user.python).parent / 'python3'}\n"
    assert (as_user.home / "made").stat().st_uid == user.uid
    async with await ssh_connect(as_user) as conn:
        terminal = await conn.run("stat -c %U $(tty)", term_type="xterm", check=True)
    assert terminal.stdout == f"{LOGIN_USER}\r\n"
    run_dir = as_user.ssh_socket.parent
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o711
    assert as_user.ssh_socket.stat().st_uid == 0  # the SSH server's, out of the user's reach
    assert as_user.jupyter_socket.stat().st_uid == user.uid
    headers = {"X-XSRFToken": XSRF, "Cookie": f"_xsrf={XSRF}"}
    connector = aiohttp.UnixConnector(path=os.fspath(as_user.jupyter_socket))
    async with aiohttp.ClientSession(connector=connector) as http:
        url = "http://localhost:8888/jupyterlab/default/api/kernels"
        async with http.post(url, json={"name": "python3"}, headers=headers) as response:
            assert response.status == 201
            kernel = await response.json()
        try:
            owners = {role: proc.username() for role, proc in _jupyter_processes(as_user)}
            assert owners == {"server": LOGIN_USER, "kernel": LOGIN_USER}
        finally:
            async with http.delete(f"{url}/{kernel['id']}", headers=headers):
                pass


def _jupyter_processes(runtime: SpaceRuntime) -> list[tuple[str, psutil.Process]]:
    """The runtime's Jupyter server and kernels (``ipykernel_launcher``), by role."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            argv = proc.cmdline()
            if "jupyter_server" in argv and any(str(runtime.root) in a for a in argv):
                found.append(("server", proc))
            elif "ipykernel_launcher" in argv:
                found.append(("kernel", proc))
    return found
