"""Keep alive only what is used, through real OpenSSH against the emulator's idle shutdown.

A 60-minute idle timeout (the service's minimum) with 0.35-second emulated minutes (21 s): a
session with steady output keeps the app running past it, through the heartbeat the daemon
writes; a session that only exchanges ssh keepalives (``ServerAliveInterval=1``) lets it stop
near the timeout, and the foreground `smconnect forward` and the session's relay warned before
that.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from bridge.emulator.config import SpaceConfig, default_config
from bridge.emulator.runtime import SpaceRuntime
from bridge.emulator.runtime.activity import heartbeat_time

from .e2e_helpers import FAST_DELAYS, Stack, running_stack, session_ending

SESSION_IDLE_MINUTES = 20  # the SSM idle session timeout (the service's default): 7 s here
MINUTE = 0.35  # seconds per emulated minute, in the emulator and the daemon alike
TIMEOUT_MINUTES = 60  # the space's idle timeout: 21 s here
DOMAIN = "d-emulator00001"
SPACE, HOST = "editor", "sm-editor"  # a Code Editor space: no Jupyter server to wait for
QUIET_SPACE, QUIET_HOST = "quiet", "sm-quiet"  # another, for the session that lets it stop
STEADY_OUTPUT = "while :; do head -c 3000 /dev/zero | tr '\\0' x; echo; sleep 0.2; done"


@pytest.fixture(scope="module")
def idle_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = default_config()
    seed = base.domains[0]
    domain = dataclasses.replace(
        seed,
        idle_timeout_minutes=TIMEOUT_MINUTES,
        spaces=(*seed.spaces, SpaceConfig(QUIET_SPACE, app_type="CodeEditor")),
    )
    config = dataclasses.replace(
        base, pacing="unthrottled", delays=FAST_DELAYS, minute_seconds=MINUTE, domains=(domain,)
    )
    for stack in running_stack(config, tmp_path_factory):
        stack.env.update(
            SMCONNECT_KEEPALIVE_INTERVAL=str(MINUTE),
            SMCONNECT_IDLE_WARNING="10",
        )
        yield stack


def _app_status(stack: Stack, space: str = SPACE) -> str | None:
    spaces = stack.call("spaces.list", {"refresh": True, "endpoint_url": stack.emu.endpoint_url})
    found = next(s for s in spaces["spaces"] if s["name"] == space)
    return found["app_status"]


def _open(stack: Stack, space: str = SPACE) -> None:
    stack.call("space.open", {"space": space, "endpoint_url": stack.emu.endpoint_url})
    assert _app_status(stack, space) == "InService"


def _ssh(stack: Stack, *args: str) -> subprocess.Popen[bytes]:
    """An ssh session whose output is drained by a thread, once its command runs."""
    proc = subprocess.Popen(
        stack.ssh_argv(*args, HOST, f"echo started; {STEADY_OUTPUT}"),
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"started\n"
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc


def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _quiet_ssh(stack: Stack, *options: str) -> subprocess.Popen[bytes]:
    """A session that only exchanges ssh keepalives once its command has started."""
    proc = subprocess.Popen(
        stack.ssh_argv(
            "-o", "ServerAliveInterval=1", *options, QUIET_HOST, "echo started; exec sleep 600"
        ),
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"started\n"
    return proc


@pytest.mark.long
def test_steady_output_keeps_its_space_running_while_a_quiet_one_stops_after_a_warning(
    idle_stack: Stack,
) -> None:
    """Two spaces through one idle timeout, side by side (one wait for both outcomes): the
    steady session's space runs past it; the quiet one stops near it, warned once on every
    path: the foreground forward, the relay path (its `smconnect proxy` stays beside ssh) and
    the passed-descriptor path (its `smconnect-watch`)."""
    _open(idle_stack)
    _open(idle_stack, QUIET_SPACE)
    steady = _ssh(idle_stack)
    steady_since = time.monotonic()
    relayed = _quiet_ssh(idle_stack, "-o", "ProxyUseFdpass=no")
    passed = _quiet_ssh(idle_stack, "-o", "ProxyUseFdpass=yes")
    forward = idle_stack.popen("forward", QUIET_SPACE, "0:22")
    try:
        started = time.monotonic()
        deadline = started + TIMEOUT_MINUTES * MINUTE + 20
        while time.monotonic() < deadline and _app_status(idle_stack, QUIET_SPACE) == "InService":
            time.sleep(0.2)
        stopped_after = time.monotonic() - started
        assert _app_status(idle_stack, QUIET_SPACE) != "InService", (
            "the quiet session kept the space running"
        )
        assert stopped_after >= (TIMEOUT_MINUTES - 5) * MINUTE, stopped_after

        # The steady space: past its timeout and a few polls, still running.
        time.sleep(max(0.0, steady_since + TIMEOUT_MINUTES * MINUTE + 6 - time.monotonic()))
        assert steady.poll() is None
        assert _app_status(idle_stack) == "InService"
        status = idle_stack.call("keepalive.status")
        found = next(s for s in status["spaces"] if s["space"] == SPACE)
        assert found["mode"] == "activity"
        assert found["heartbeat_at"] is not None
        assert found["idle_timeout_minutes"] == TIMEOUT_MINUTES
    finally:
        for proc in (steady, relayed, passed, forward):
            _stop(proc)
    outputs = {
        "forward": forward.communicate(timeout=10)[1],
        "relay": relayed.communicate(timeout=10)[1].decode(),
        "fdpass": passed.communicate(timeout=10)[1].decode(),
    }
    for path, stderr in outputs.items():
        warnings = [line for line in stderr.splitlines() if "idle shutdown" in line]
        assert len(warnings) == 1, (path, stderr)
        assert f"smconnect keep-alive {QUIET_SPACE} --refresh" in warnings[0]
    assert outputs["fdpass"].count("idle shutdown") == 1


def test_an_idle_terminated_session_ends_with_its_cause_and_the_next_ssh_works(
    idle_stack: Stack,
) -> None:
    """No traffic for the SSM idle session timeout (ssh's ServerAliveInterval is 30 s, longer):
    the agent side terminates the session; ssh ends with the service's reason on one line, and
    the next ssh to the space gets a new session at once."""
    _open(idle_stack)
    started = time.monotonic()
    code, stderr = session_ending(idle_stack, lambda: None, ("-o", "ProxyUseFdpass=no"), host=HOST)
    assert time.monotonic() - started < SESSION_IDLE_MINUTES * MINUTE + 15
    assert code != 0
    lines = [line for line in stderr.decode().splitlines() if "inactivity" in line]
    assert lines == [
        "smconnect: the session ended: Your session timed out due to inactivity and has been "
        "terminated."
    ], stderr
    again = idle_stack.ssh(HOST, "echo again", timeout=30)
    assert again.returncode == 0, again.stderr
    assert again.stdout == b"again\n"


def test_keep_running_writes_the_heartbeat_and_a_space_mode_persists(idle_stack: Stack) -> None:
    """ "Keep running" (`keep-alive SPACE --refresh`) writes the heartbeat the space's idle
    shutdown reads, in its format; a space's own mode is kept in the state directory."""
    _open(idle_stack)
    before = time.time()
    done = idle_stack.smconnect("keep-alive", SPACE, "always", "--refresh", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mode"] == "always"
    app = idle_stack.emu.emulator.plane.account.apps[(DOMAIN, SPACE, "CodeEditor", "default")]
    assert isinstance(app.runtime, SpaceRuntime)
    written = heartbeat_time(app.runtime.tmp_dir)
    assert written is not None and before - 1 <= written <= time.time() + 1
    prefs = json.loads((idle_stack.state_dir / "keep-alive.json").read_text())
    assert list(prefs.values()) == ["always"]
    back = idle_stack.smconnect("keep-alive", SPACE, "default")
    assert back.returncode == 0, back.stderr
    assert json.loads((idle_stack.state_dir / "keep-alive.json").read_text()) == {}
