"""ssh never ends silently: every abnormal end is one line on stderr and a non-zero exit, on the
relay path (the proxy names it) and with a passed descriptor (the process it leaves behind does)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .e2e_helpers import BOTH_PATHS, Stack, session_ending


@pytest.fixture(scope="module")
def opened(stack: Stack) -> dict[str, Any]:
    result: dict[str, Any] = stack.call(
        "space.open", {"space": "demo", "endpoint_url": stack.emu.endpoint_url}
    )
    return result


def _ours(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines() if line.startswith("smconnect:")]


@BOTH_PATHS
def test_a_daemon_killed_mid_session_is_named_on_stderr(
    stack: Stack, opened: dict[str, Any], path: list[str]
) -> None:
    def kill_daemon() -> None:
        status = stack.call("daemon.status", autostart=False)
        os.kill(int(status["pid"]), signal.SIGKILL)

    returncode, stderr = session_ending(stack, kill_daemon, path)
    assert returncode != 0
    lines = _ours(stderr)
    assert len(lines) == 1 and "daemon went away" in lines[0], stderr
    assert b"Traceback" not in stderr
    assert "daemon went away" in (stack.state_dir / "proxy.log").read_text()


def test_an_unsafe_runtime_directory_is_one_line_not_a_traceback(
    stack: Stack, tmp_path: Path
) -> None:
    unsafe = tmp_path / "run"
    unsafe.mkdir()
    unsafe.chmod(0o777)  # as if another user had planted it
    env = {**stack.env, "SMCONNECT_RUNTIME_DIR": str(unsafe)}
    done = subprocess.run(
        ["smconnect", "proxy", "sm-demo"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    lines = _ours(done.stderr)
    assert len(lines) == 1 and "accessible to other users" in lines[0], done.stderr


def test_a_relay_started_with_stdout_closed_keeps_sockets_off_fd_1() -> None:
    """ssh can start the relay with a standard descriptor closed; the daemon socket must not
    become fd 1, or stream bytes meant for ssh would be written into it."""
    script = (
        "import os, socket, sys\n"
        "os.close(1)\n"
        "from bridge.proxy import _claim_standard_fds\n"
        "_claim_standard_fds()\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "sys.stderr.write(str(s.fileno()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=30, check=True
    )
    assert int(done.stderr) > 2
