"""``smconnect cp`` for real: the CLI, the autostarted daemon, SSM sessions through the emulator
(one per lane), OpenSSH-compatible exec and the helper in the space."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from bridge.emulator.config import LimitsConfig
from bridge.transfer.plan import CHUNK
from tests.daemon.jupyter.kernels_helpers import Stack as Sandbox
from tests.support import wait_until
from tests.transfer.transfer_helpers import (
    cp_json,
    realistic_pacing,
    sample_tree,
    tree_hashes,
)
from tests.transfer.transfer_helpers import wait_until as until_landed

PIECE = 256 << 10


def cp(stack: Sandbox, *args: str) -> dict[str, Any]:
    return cp_json(stack, *args)[0]


def test_tree_up_and_down_is_byte_identical(stack: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "data set"
    sample_tree(src, CHUNK + CHUNK // 3)
    up = cp(stack, "-r", "--lanes", "3", str(src), "demo:")
    assert up["files"] == 3 and up["lanes"] == 3
    assert up["bytes"] == sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    assert set(up) >= {"bytes", "wire_bytes", "skipped_bytes", "files", "seconds", "lanes"}
    remote = stack.space_home("demo") / "data set"
    assert tree_hashes(remote) == tree_hashes(src)
    down = cp(stack, "-r", "--lanes", "2", "demo:data set", str(tmp_path / "back"))
    assert down["files"] == 3
    assert tree_hashes(tmp_path / "back") == tree_hashes(src)


def test_dropped_websockets_still_give_an_identical_file(stack: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(5 * CHUNK + 99))
    faults = stack.emu.emulator.broker.faults
    faults.drop_every_bytes_received, faults.max_drops = 3 << 20, 1  # each lane's socket once
    try:
        summary = cp(stack, "--lanes", "3", str(src), "demo:big.bin")
    finally:
        faults.drop_every_bytes_received, faults.max_drops = None, None
    got = (stack.space_home("demo") / "big.bin").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(src.read_bytes()).digest()
    assert summary["bytes"] == src.stat().st_size
    drops = sum(s.stats.drops_injected for s in stack.emu.emulator.broker.sessions.values())
    assert drops >= 1


@pytest.mark.parametrize(
    ("args", "needle", "code"),
    [
        (["/nonexistent/x", "demo:x"], "no such file", 1),
        (["./x", "nosuchspace:x"], "nosuchspace", 3),
        (["--lanes", "0", "a", "demo:"], "--lanes", 2),
        (["--lanes", "100", "a", "demo:"], "--lanes", 2),
        (["a", "b"], "exactly one side", 2),
    ],
)
def test_bad_input_is_one_line(
    stack: Sandbox, tmp_path: Path, args: list[str], needle: str, code: int
) -> None:
    done = stack.smconnect("cp", *args)
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr


def test_a_remote_path_outside_permissions_is_one_line(stack: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"data")
    done = stack.smconnect("cp", str(src), "demo:/proc/nope/f")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "/proc/nope" in lines[0], done.stderr


def test_auto_lanes_back_off_on_the_session_limit(stack: Sandbox, tmp_path: Path) -> None:
    """The emulator answers StartSession beyond its per-space cap with ResourceLimitExceeded,
    as the service does: ``auto`` goes on with the lanes it got, a number fails in one line."""
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(2 * CHUNK + 5))
    assert stack.smconnect("cp", str(src), "demo:warm.bin").returncode == 0  # the space runs
    plane = stack.emu.emulator.plane

    def settled() -> tuple[int] | None:
        """Sessions still open on the space, once only the daemon's held channels are (the
        first copy's lanes end after it returns: counted then, they made the cap too high)."""
        live = sum(1 for s in stack.emu.emulator.broker.sessions.values() if not s.ended.is_set())
        held = len(stack.call("sessions.status", autostart=False)["sessions"])
        return (live,) if live == held else None  # a tuple: 0 sessions is an answer too

    answer = wait_until(settled, timeout=30)
    assert answer is not None, "the first copy's sessions did not end"
    (live,) = answer
    original = plane.config
    plane.config = dataclasses.replace(original, limits=LimitsConfig(sessions_per_space=live + 3))
    try:
        summary = cp(stack, "--lanes", "auto", str(src), "demo:capped.bin")
        strict = stack.smconnect("cp", "--lanes", "8", str(src), "demo:refused.bin")
    finally:
        plane.config = original
    assert 1 <= summary["lanes"] <= 3
    assert (stack.space_home("demo") / "capped.bin").read_bytes() == src.read_bytes()
    assert strict.returncode != 0 and len(strict.stderr.strip().splitlines()) == 1, strict.stderr
    assert "limit" in strict.stderr
    assert not (stack.space_home("demo") / "refused.bin").exists()


def test_a_second_copy_to_the_same_destination_says_why_it_waits(
    stack: Sandbox, tmp_path: Path
) -> None:
    """The second copy runs only once the first has ended (``TransferService._turn``); until
    then it says so instead of showing nothing, and both leave the right file."""
    first_src, second_src = tmp_path / "first.bin", tmp_path / "second.bin"
    first_src.write_bytes(os.urandom(8 * PIECE))
    second_src.write_bytes(os.urandom(PIECE))
    args = ["--lanes", "1", "--chunk", str(PIECE)]
    cp(stack, *args, str(first_src), str(second_src), "demo:")
    dest = tmp_path / "same.bin"
    with realistic_pacing(stack):  # the first download takes seconds: the second meets it
        first = stack.popen("cp", "--json", *args, "demo:first.bin", str(dest))
        until_landed(first, lambda: any(tmp_path.glob(".same.bin*")), 60)  # its partial
        summary, stderr = cp_json(stack, *args, "demo:second.bin", str(dest))
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert f"waiting for an earlier copy to {dest} to finish" in stderr
    assert "waiting" not in err
    assert summary["bytes"] == PIECE
    assert dest.read_bytes() == second_src.read_bytes()
