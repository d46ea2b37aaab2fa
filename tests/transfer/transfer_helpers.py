"""Lanes to real helper processes on this machine, started exactly as in a space (the exec
command reads the helper's source from stdin), so the protocol, striping and verification run
for real without SSM; the daemon tests add the SSM sessions."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.emulator.runtime.space import SPACE_PATH_ENV
from bridge.transfer import helper
from bridge.transfer.lanes import HelperLane, Lane
from tests.daemon.jupyter.kernels_helpers import Stack


async def local_lane(index: int, cwd: Path) -> tuple[Lane, asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        helper.bootstrap(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=cwd,
    )
    assert proc.stdin is not None and proc.stdout is not None

    async def close() -> None:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()

    lane = HelperLane(index, proc.stdout, proc.stdin, close)
    await lane.start()
    return lane, proc


def tree_hashes(root: Path) -> dict[str, str]:
    """rel path -> sha256 of a file, or 'link:TARGET', or 'dir'."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + str(p.readlink())
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@contextlib.contextmanager
def realistic_pacing(stack: Stack) -> Iterator[None]:
    """New SSM sessions paced like the real service (~1 MB/s each) for the block."""
    broker = stack.emu.emulator.broker
    broker.pacing = "realistic"
    try:
        yield
    finally:
        broker.pacing = "unthrottled"


def clear_manifests(stack: Stack) -> Path:
    """Empty ``stack``'s upload manifests folder and return it. The package's tests share one
    daemon (and one state dir), and a copy another test cut off leaves its manifest there by
    design: a test that reads "the first manifest found" (``landed_chunks``) or expects none
    left must start from an empty folder, whichever tests ran before it on this worker."""
    manifests = stack.state_dir / "transfers"
    for stale in manifests.glob("*"):
        stale.unlink()
    return manifests


def landed_chunks(manifest_glob: Iterator[Path]) -> int:
    """Chunks recorded in the first manifest found (its identity line not counted)."""
    for path in manifest_glob:
        with contextlib.suppress(OSError):
            return max(0, path.read_bytes().count(b"\n") - 1)
    return 0


def wait_until(proc: subprocess.Popen[str], ready: Callable[[], bool], timeout: float) -> None:
    """Return once ``ready()``; fails the test if ``proc`` ends or time runs out first."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the copy never got half-way"
        time.sleep(0.05)


def kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool], timeout: float) -> None:
    """kill -9 ``proc`` once ``ready()``."""
    wait_until(proc, ready, timeout)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def helper_pids() -> set[int]:
    """Transfer helpers running on this machine (the emulated space's are local processes)."""
    marker = helper.bootstrap().encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker in (entry / "cmdline").read_bytes():
                    pids.add(int(entry.name))
    return pids


@contextlib.contextmanager
def tmpfs(path: Path, options: str, *, prefill: dict[str, bytes]) -> Iterator[None]:
    """A small filesystem of its own at ``path`` holding ``prefill``, then mounted with
    ``options`` (``size=1m``: full soon; ``ro``: read-only, which holds even for root); the
    test is skipped where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        for name, data in prefill.items():
            (path / name).write_bytes(data)
        subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def space_without_python(stack: Stack, space: str, bare: Path) -> Iterator[Path]:
    """``space`` (re)started with ``bare`` (an empty folder) as its sessions' whole PATH, so
    ``python3`` cannot run there (the emulator's ``SMCONNECT_EMULATOR_SPACE_PATH`` knob); its
    home is yielded, and the space is restarted with the normal PATH afterwards."""
    bare.mkdir(exist_ok=True)
    context = stack.context
    try:
        stack.call("space.stop", {"space": space, **context, "force": True})
        with _space_path(str(bare)):
            stack.call("space.start", {"space": space, **context})
        yield stack.space_home(space)
    finally:
        stack.call("space.stop", {"space": space, **context, "force": True})
        stack.call("space.start", {"space": space, **context})


@contextlib.contextmanager
def _space_path(path: str) -> Iterator[None]:
    saved = os.environ.get(SPACE_PATH_ENV)
    os.environ[SPACE_PATH_ENV] = path
    try:
        yield
    finally:
        os.environ.pop(SPACE_PATH_ENV, None)
        if saved is not None:
            os.environ[SPACE_PATH_ENV] = saved


def cp_json(stack: Stack, *args: str) -> tuple[dict[str, Any], str]:
    """``smconnect cp --json ARGS`` that must succeed: its summary and its stderr."""
    done = stack.smconnect("cp", "--json", *args, timeout=300)
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary, done.stderr


def sample_tree(src: Path, big: int) -> None:
    """An empty file, a CSV under a non-ASCII folder with spaces, a ``big``-byte random file
    and a link pointing out of the tree (to be copied as a link, never followed)."""
    (src / "ünï cödé").mkdir(parents=True)
    (src / "empty").write_bytes(b"")
    (src / "ünï cödé" / "a file.txt").write_text("x,y\n" * 5000)
    (src / "big.bin").write_bytes(os.urandom(big))
    os.symlink("../../etc/passwd", src / "escape")
