"""``sync`` over real helper processes: only what differs moves, mtimes are kept so a second
run moves nothing, ``--checksum`` finds a same-size same-mtime change, ``--delete`` and
``--exclude`` shape the destination, and a dry run changes nothing."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bridge.transfer.engine import Direction, Stats
from bridge.transfer.lanes import Lane
from bridge.transfer.plan import SyncPlan
from bridge.transfer.sync import sync
from tests.transfer.transfer_helpers import local_lane, tree_hashes


def run_sync(
    direction: Direction, src: str, dest: str, home: Path, **options: bool | list[str]
) -> tuple[Stats, SyncPlan]:
    async def main() -> tuple[Stats, SyncPlan]:
        lanes: list[Lane] = [(await local_lane(i, home))[0] for i in range(2)]
        try:
            return await sync(direction, src, dest, lanes, **options)  # type: ignore[arg-type]
        finally:
            for lane in lanes:
                await lane.close()

    return asyncio.run(main())


@pytest.mark.parametrize("direction", ["upload", "download"])
def test_sync_moves_only_what_differs(tmp_path: Path, direction: Direction) -> None:
    local, home = tmp_path / "local", tmp_path / "home"
    src = (local if direction == "upload" else home) / "data"
    dst = (home if direction == "upload" else local) / "mirror"
    (src / "sub").mkdir(parents=True)
    home.mkdir(exist_ok=True)
    (src / "a.txt").write_text("alpha\n" * 1000)
    (src / "sub" / "b.bin").write_bytes(os.urandom(3 << 20))
    (src / "skip.pyc").write_bytes(b"x")
    paths = (str(src), "mirror") if direction == "upload" else ("data", str(dst))

    first, _ = run_sync(direction, *paths, home, exclude=["*.pyc"])
    assert first.files == 2 and not (dst / "skip.pyc").exists()
    assert tree_hashes(dst) == {k: v for k, v in tree_hashes(src).items() if k != "skip.pyc"}

    again, plan = run_sync(direction, *paths, home, exclude=["*.pyc"])
    assert again.files == 0 and again.skipped_bytes == first.bytes  # mtimes were kept

    stat = (src / "a.txt").stat()
    (src / "a.txt").write_text("ALPHA\n" * 1000)  # same size, same mtime: only a hash sees it
    os.utime(src / "a.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert run_sync(direction, *paths, home, exclude=["*.pyc"])[0].files == 0
    (dst / "extra").write_text("not in the source")
    stats, plan = run_sync(
        direction, *paths, home, checksum=True, delete=True, exclude=["*.pyc"], dry_run=True
    )
    assert [os.path.basename(j.dst) for j in plan.copy.files] == ["a.txt"]
    assert [os.path.basename(p) for p in plan.delete] == ["extra"]
    assert (dst / "extra").exists() and stats.files == 0  # a dry run changes nothing
    stats, _ = run_sync(direction, *paths, home, checksum=True, delete=True)
    assert stats.files == 2  # a.txt, and skip.pyc now that nothing excludes it
    assert tree_hashes(dst) == tree_hashes(src)
