"""SSM session accounting through real OpenSSH: one session per ssh, every session the daemon
no longer needs terminated (ssh ended, ssh killed, daemon shut down), and the service's session
limit answered with one line. Sessions are counted on the emulator, which enforces the limit
(``limits.sessions_per_space``) as the service does."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import LimitsConfig, default_config
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

from .e2e_helpers import FAST_DELAYS, Stack


def _started(emu: EmulatorThread) -> int:
    """StartSession calls the emulator answered with a session, ever."""
    return len(emu.emulator.plane.sessions)


def _active(emu: EmulatorThread) -> list[str]:
    """Sessions the emulator still counts against the space's limit."""
    plane = emu.emulator.plane
    return [s for s in plane.sessions if plane.gateway.active(s)]


def _wait_until(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.1)
    return False


SPACE = "editor"  # a Code Editor space: its app starts in milliseconds, no Jupyter server


def _open(stack: Stack) -> str:
    """Open the space; its ssh host."""
    opened = stack.call("space.open", {"space": SPACE, "endpoint_url": stack.emu.endpoint_url})
    return str(opened["ssh_host"])


def _held_ssh(stack: Stack, host: str) -> subprocess.Popen[bytes]:
    """An ssh running a long command, once the command runs (its session is in use)."""
    proc = subprocess.Popen(
        stack.ssh_argv(host, "echo started; sleep 120"),
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == b"started\n", proc.stderr.read() if proc.stderr else b""
    return proc


def test_twenty_sequential_ssh_start_twenty_sessions(stack: Stack) -> None:
    host = _open(stack)  # learns the host key of this app run: no ssh below needs a session
    before = _started(stack.emu)
    for _ in range(20):
        done = stack.ssh(host, "true", timeout=60)
        assert done.returncode == 0, done.stderr
    assert _started(stack.emu) - before == 20
    # Each was terminated when its ssh ended: none is left counting against the limit.
    assert _wait_until(lambda: not _active(stack.emu), 10), _active(stack.emu)


def test_killed_ssh_clients_leave_no_session_behind(stack: Stack) -> None:
    host = _open(stack)
    for _ in range(12):  # more than the service's limit of 10
        proc = _held_ssh(stack, host)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
        assert proc.stdout is not None
        proc.stdout.close()
    started = time.monotonic()
    done = stack.ssh(host, "echo still-in", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"still-in\n"
    assert time.monotonic() - started < 15
    assert _wait_until(lambda: not _active(stack.emu), 10), _active(stack.emu)


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Sandbox]:
    """A private emulator allowing two sessions per space, and its own daemon."""
    config = dataclasses.replace(
        default_config(),
        pacing="unthrottled",
        delays=FAST_DELAYS,
        limits=LimitsConfig(sessions_per_space=2),
    )
    with start_in_thread(config) as emulator:
        sandbox = Sandbox.create(
            tmp_path / "home", emulator.env, extra=FAST_DAEMON, emulator=emulator
        )
        try:
            yield sandbox
        finally:
            sandbox.stop_daemon()


def test_session_limit_is_one_line_naming_it(limited: Sandbox) -> None:
    host = _open(limited)
    held = [_held_ssh(limited, host) for _ in range(2)]
    try:
        started = time.monotonic()
        done = limited.ssh(host, "true", timeout=60)
        assert done.returncode != 0
        stderr = done.stderr.decode()
        assert (
            f"smconnect: space '{SPACE}' already has 2 active remote sessions (the service's limit)"
            in stderr
        ), stderr
        assert "Traceback" not in stderr and "ResourceLimitExceeded" not in stderr
        # Our sessions are held, not ending: no more than the short settle before the answer.
        assert time.monotonic() - started < 15
    finally:
        for proc in held:
            proc.kill()
            proc.communicate()
    # Killed, their sessions end, and the space takes a new one (the wait covers the ending).
    done = limited.ssh(host, "echo again", timeout=60)
    assert done.returncode == 0, done.stderr


def test_daemon_shutdown_terminates_its_sessions(limited: Sandbox) -> None:
    host = _open(limited)
    held = [_held_ssh(limited, host) for _ in range(2)]
    try:
        assert len(_active(limited.emu)) == 2
        limited.stop_daemon()
        assert _wait_until(lambda: not _active(limited.emu), 15), _active(limited.emu)
    finally:
        for proc in held:
            proc.kill()
            proc.communicate()


def test_one_slot_short_of_the_limit_the_host_key_is_learnt_after_all(
    limited: Sandbox, tmp_path: Path
) -> None:
    """A new daemon that must learn the host key opens the ``hostkey`` channel beside ssh's;
    with one slot left that is one session too many, and the two go one after the other."""
    other = Sandbox.create(
        tmp_path / "other", limited.emu.env, extra=FAST_DAEMON, emulator=limited.emu
    )
    try:
        host = _open(limited)
        assert _open(other) == host
        held = _held_ssh(limited, host)  # one of the two slots
        try:
            other.stop_daemon()
            (other.state_dir / "host-keys.json").unlink()  # as for a new run of the app
            done = other.ssh(host, "echo ok", timeout=60)
            assert done.returncode == 0 and done.stdout == b"ok\n", done.stderr
        finally:
            held.kill()
            held.communicate()
    finally:
        other.stop_daemon()
