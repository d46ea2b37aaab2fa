"""Warm channels through real OpenSSH and the real CLI: the second ``ssh`` to a space takes the
ready channel (no StartSession of its own on the emulator), ``status --json`` lists the spare
with purpose ``warm``, it ends after the idle time, and none is kept for a stopped space."""

from __future__ import annotations

import json
import time
from typing import Any

from bridge.emulator import EmulatorThread

from .e2e_helpers import Stack

SPACE, HOST = "editor", "sm-editor"  # a Code Editor space: no Jupyter server to start


def _started(emu: EmulatorThread) -> int:
    return len(emu.emulator.plane.sessions)


def _warm(stack: Stack) -> list[dict[str, Any]]:
    """The spares the daemon lists, asked over its socket (what ``status --json`` shows: the
    test reads that once, and polls this way, fast enough to beat a short idle time)."""
    sessions = stack.call("sessions.status", autostart=False)["sessions"]
    return [s for s in sessions if s["purpose"] == "warm"]


def _until_warm(stack: Stack, probe: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The spares once ``probe`` holds for them (the list it held for, not a later reading: a
    spare may end between two readings); fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not probe(warm := _warm(stack)):
        assert time.monotonic() < deadline, f"timed out; spares: {warm}"
        time.sleep(0.05)
    return warm


def test_second_ssh_uses_the_warm_channel_then_idle_and_stop_end_it(warm_stack: Stack) -> None:
    stack = warm_stack
    stack.call("space.open", {"space": SPACE, "endpoint_url": stack.emu.endpoint_url})
    first = stack.ssh(HOST, "true", timeout=60)
    assert first.returncode == 0, first.stderr
    [spare] = _until_warm(stack, lambda warm: len(warm) == 1)
    assert spare["space"] == SPACE and spare["state"] == "connected"
    shown = stack.smconnect("status", "--json")
    assert shown.returncode == 0, shown.stderr
    listed = [s for s in json.loads(shown.stdout)["sessions"] if s["purpose"] == "warm"]
    assert [s["id"] for s in listed] == [spare["id"]]

    before = _started(stack.emu)
    second = stack.ssh(HOST, "echo warm", timeout=60)
    assert second.returncode == 0, second.stderr
    assert second.stdout == b"warm\n"
    # the ssh itself started no session: at most the next spare did
    assert _started(stack.emu) - before <= 1
    _until_warm(stack, lambda warm: [w["id"] for w in warm] not in ([], [spare["id"]]))

    # no ssh for the warm idle time (the warm_stack fixture sets it), and the spare is gone
    _until_warm(stack, lambda warm: not warm, timeout=30)

    third = stack.ssh(HOST, "true", timeout=60)
    assert third.returncode == 0, third.stderr
    _until_warm(stack, lambda warm: len(warm) == 1)
    stopped = stack.smconnect("stop", SPACE)
    assert stopped.returncode == 0, stopped.stderr
    assert not _warm(stack)
