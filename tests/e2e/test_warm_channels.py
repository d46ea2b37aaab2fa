"""Warm channels through real OpenSSH and the real CLI: the second ``ssh`` to a space takes the
ready channel (no StartSession of its own on the emulator), ``status --json`` lists the spare
with purpose ``warm``, it ends after the idle time, and none is kept for a stopped space."""

from __future__ import annotations

import json
import time
from typing import Any

from bridge.emulator import EmulatorThread

from .e2e_helpers import Stack


def _started(emu: EmulatorThread) -> int:
    return len(emu.emulator.plane.sessions)


def _warm(stack: Stack) -> list[dict[str, Any]]:
    done = stack.smconnect("status", "--json")
    assert done.returncode == 0, done.stderr
    return [s for s in json.loads(done.stdout)["sessions"] if s["purpose"] == "warm"]


def _until(probe: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.2)
    return False


def test_second_ssh_uses_the_warm_channel_then_idle_and_stop_end_it(warm_stack: Stack) -> None:
    stack = warm_stack
    stack.call("space.open", {"space": "demo", "endpoint_url": stack.emu.endpoint_url})
    first = stack.ssh("sm-demo", "true", timeout=60)
    assert first.returncode == 0, first.stderr
    seen: list[dict[str, Any]] = []

    def one_spare() -> bool:  # kept from the same look: under load a second one may be late
        seen[:] = _warm(stack)
        return len(seen) == 1

    assert _until(one_spare)
    spare = seen[0]
    assert spare["space"] == "demo" and spare["state"] == "connected"

    before = _started(stack.emu)
    second = stack.ssh("sm-demo", "echo warm", timeout=60)
    assert second.returncode == 0, second.stderr
    assert second.stdout == b"warm\n"
    # the ssh itself started no session: at most the next spare did
    assert _started(stack.emu) - before <= 1
    assert _until(lambda: [w["id"] for w in _warm(stack)] not in ([], [spare["id"]]))

    # SMCONNECT_WARM_IDLE_SECONDS=6: no ssh for that long, and the spare is gone
    assert _until(lambda: not _warm(stack), timeout=30)

    third = stack.ssh("sm-demo", "true", timeout=60)
    assert third.returncode == 0, third.stderr
    assert _until(lambda: len(_warm(stack)) == 1)
    stopped = stack.smconnect("stop", "demo")
    assert stopped.returncode == 0, stopped.stderr
    assert not _warm(stack)
