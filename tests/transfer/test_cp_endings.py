"""``smconnect cp`` never ends silently: when the daemon dies or the space stops mid-copy, the
real CLI prints one line naming the cause and exits non-zero (no traceback)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge.testing.sandbox import SMCONNECT
from bridge.transfer.helper import part_path
from tests.daemon.jupyter.kernels_helpers import Stack
from tests.support import wait_until
from tests.support.interrupted import run_interrupted

MIB = 1 << 20


@pytest.fixture
def paced(stack: Stack) -> Iterator[Stack]:
    """Sessions at the service's pace (about 1 MB/s), so a copy lasts long enough to cut."""
    broker = stack.emu.emulator.broker
    broker.pacing = "realistic"
    try:
        yield stack
    finally:
        broker.pacing = "unthrottled"


def _cut_copy(stack: Stack, tmp_path: Path, cut: Callable[[], object]) -> tuple[int, str]:
    """Upload 8 MiB on one lane, ``cut`` it once bytes arrive, return cp's status and stderr."""
    src = tmp_path / f"{tmp_path.name}.bin"  # its own name: no leftover of another test counts
    src.write_bytes(os.urandom(8 * MIB))
    stack.call("space.open", {"space": "demo", **stack.context})
    partial = Path(part_path(str(stack.space_home("demo") / src.name)))

    def copying(proc: object) -> None:
        assert wait_until(lambda: partial.exists() and partial.stat().st_size > 0, timeout=30)
        time.sleep(0.5)

    argv = [SMCONNECT, "cp", "--lanes", "1", str(src), f"demo:{src.name}"]
    returncode, stderr = run_interrupted(argv, stack.env, copying, cut)
    return returncode, stderr.decode()


def test_a_daemon_killed_mid_copy_is_one_line(paced: Stack, tmp_path: Path) -> None:
    def kill_daemon() -> None:
        os.kill(int(paced.call("daemon.status", autostart=False)["pid"]), signal.SIGKILL)

    returncode, stderr = _cut_copy(paced, tmp_path, kill_daemon)
    assert returncode != 0
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert returncode == 5  # the daemon's exit code (docs/cli.md)
    assert len(lines) == 1 and "connection to the smconnect daemon was lost" in lines[0], stderr


def test_a_space_stopped_mid_copy_is_one_line(paced: Stack, tmp_path: Path) -> None:
    returncode, stderr = _cut_copy(
        paced,
        tmp_path,
        lambda: paced.call("space.stop", {"space": "demo", **paced.context, "force": True}),
    )
    assert returncode != 0
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "cut off: space 'demo' stopped" in lines[0], stderr
