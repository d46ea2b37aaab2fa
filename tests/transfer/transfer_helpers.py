"""Lanes to real helper processes on this machine, started exactly as in a space (the exec
command reads the helper's source from stdin), so the protocol, striping and verification run
for real without SSM; the daemon tests add the SSM sessions."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path

from bridge.transfer import helper
from bridge.transfer.lanes import Lane


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

    lane = Lane(index, proc.stdout, proc.stdin, close)
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
