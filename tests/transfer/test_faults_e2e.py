"""Faults during real copies (CLI, daemon, SSM sessions through the emulator, the helper in the
space): a full or read-only destination, one lane's session terminated or its helper killed, a
source changing under the copy. Each ends byte-identical or with one clear line, and never with
anything unverified under the final name.

"Disk full" and "not writable" are small tmpfs mounts (size-limited, or read-only, which holds
even for root, as these tests run in CI); where mounting is not allowed they are skipped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.daemon.jupyter.kernels_helpers import Stack
from tests.transfer.transfer_helpers import (
    clear_manifests,
    helper_pids,
    landed_chunks,
    realistic_pacing,
    tmpfs,
    wait_until,
)

PIECE = "256K"


def one_line(done: subprocess.CompletedProcess[str], needle: str) -> None:
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr


@pytest.mark.parametrize(("options", "needle"), [("size=1m", "No space left"), ("ro", "Read-only")])
def test_a_full_or_read_only_destination_fails_cleanly_both_ways(
    stack: Stack, tmp_path: Path, options: str, needle: str
) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 << 20))
    assert stack.smconnect("cp", str(src), "demo:big.bin").returncode == 0
    for side, args in [
        (stack.space_home("demo") / "dest", [str(src), "demo:dest/big.bin"]),
        (tmp_path / "dest", ["demo:big.bin", str(tmp_path / "dest" / "big.bin")]),
    ]:
        with tmpfs(side, options, prefill={"big.bin": b"original"}):
            done = stack.smconnect("cp", "--chunk", PIECE, *args)
            one_line(done, needle)
            assert (side / "big.bin").read_bytes() == b"original"


def live_sessions(stack: Stack) -> set[str]:
    sessions = stack.emu.emulator.broker.sessions
    return {sid for sid, s in sessions.items() if not s.ended.is_set()}


def terminate_one(stack: Stack, sessions: set[str]) -> None:
    """TerminateSession on one lane's session."""
    broker = stack.emu.emulator.broker

    async def terminate() -> None:
        broker.terminate_session(sorted(sessions)[0])

    stack.emu.call(terminate)


def kill_one(pids: set[int]) -> None:
    os.kill(sorted(pids)[0], signal.SIGKILL)


@pytest.mark.parametrize("fault", ["session terminated", "helper killed"])
def test_a_lost_lane_gives_its_work_to_the_others(stack: Stack, tmp_path: Path, fault: str) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(4 << 20))
    manifests = clear_manifests(stack)
    sessions, helpers = live_sessions(stack), helper_pids()
    with realistic_pacing(stack):
        proc = stack.popen("cp", "--json", "--lanes", "3", "--chunk", PIECE, str(src), "demo:")
        wait_until(proc, lambda: landed_chunks(manifests.glob("*")) >= 4, 60)
        if fault == "session terminated":
            terminate_one(stack, live_sessions(stack) - sessions)
        else:
            kill_one(helper_pids() - helpers)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["bytes"] == src.stat().st_size
    assert (stack.space_home("demo") / "big.bin").read_bytes() == src.read_bytes()


def test_a_source_changing_during_the_copy_is_refused_then_copied(
    stack: Stack, tmp_path: Path
) -> None:
    src = tmp_path / "growing.log"
    src.write_bytes(os.urandom(3 << 20))
    manifests = clear_manifests(stack)
    args = ["--json", "--lanes", "2", "--chunk", PIECE, str(src), "demo:growing.log"]
    with realistic_pacing(stack):
        proc = stack.popen("cp", *args)
        wait_until(proc, lambda: landed_chunks(manifests.glob("*")) >= 2, 60)
        with src.open("ab") as f:
            f.write(b"one more line\n")
        out, err = proc.communicate(timeout=120)
    one_line(subprocess.CompletedProcess([], proc.returncode, out, err), "changed during")
    assert not (stack.space_home("demo") / "growing.log").exists()
    again = stack.smconnect("cp", *args)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["skipped_bytes"] == 0  # what landed was of the old file
    assert (stack.space_home("demo") / "growing.log").read_bytes() == src.read_bytes()
