"""``sync``: make a destination a mirror of a source, one side in the space, moving only what
differs. Both trees are walked (the space's by the helper), ``plan.plan_sync`` decides, the
helpers hash both sides of size-equal files with ``--checksum``, then the copy half runs as
``cp``'s (striped, resumable, verified) and extra destination entries are removed last."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bridge.transfer import helper
from bridge.transfer.engine import (
    Ctx,
    Direction,
    Options,
    Stats,
    execute,
    local,
    local_walk,
    method_of,
    remote_walk,
)
from bridge.transfer.lanes import Lane, TransferError
from bridge.transfer.plan import FileJob, SyncPlan, plan_sync

__all__ = ["plan_summary", "sync"]


async def _dest_tree(direction: Direction, lane: Lane, dest: str) -> tuple[str, list[Any]]:
    """The destination's walk; a missing destination is an empty one."""
    if direction == "download":
        return dest, await asyncio.to_thread(_local_tree, dest)
    try:
        return await remote_walk(lane, dest)
    except TransferError:  # missing (a folder we cannot write fails the copy, clearly)
        return dest, []


def _local_tree(dest: str) -> list[dict[str, Any]]:
    try:
        return helper.walk(dest)
    except FileNotFoundError:
        return []


async def _differing(direction: Direction, jobs: list[FileJob], lanes: list[Lane]) -> set[str]:
    """Destinations among ``jobs`` whose content hash differs from the source's (the space's
    side hashed by its helpers, spread over the lanes)."""

    async def remote(i: int, path: str) -> str:
        _, h, _ = await lanes[i % len(lanes)].request("hash", {"path": path})
        return str(h["sha256"])

    async def pair(i: int, job: FileJob) -> bool:
        if direction == "upload":
            theirs, ours = await asyncio.gather(
                remote(i, job.dst), local(helper.file_hash, job.src)
            )
        else:
            theirs, ours = await asyncio.gather(
                remote(i, job.src), local(helper.file_hash, job.dst)
            )
        return theirs != ours

    results = await asyncio.gather(*(pair(i, job) for i, job in enumerate(jobs)))
    return {job.dst for job, differs in zip(jobs, results, strict=True) if differs}


async def sync(
    direction: Direction,
    src: str,
    dest: str,
    lanes: list[Lane],
    *,
    checksum: bool = False,
    delete: bool = False,
    exclude: list[str] | None = None,
    dry_run: bool = False,
    progress: Callable[[Stats], None] = lambda stats: None,
    options: Options | None = None,
) -> tuple[Stats, SyncPlan]:
    """Mirror ``src`` (its contents) into ``dest``; with ``dry_run`` only plan."""
    lane = lanes[0]
    if direction == "upload":
        src_root, src_entries = src, await asyncio.to_thread(local_walk, src)
    else:
        src_root, src_entries = await remote_walk(lane, src)
    dest_root, dest_entries = await _dest_tree(direction, lane, dest)
    plan = plan_sync(
        src_root,
        src_entries,
        dest_root,
        dest_entries,
        checksum=checksum,
        delete=delete,
        exclude=exclude,
    )
    if plan.check:
        plan.checked(await _differing(direction, plan.check, lanes))
    stats = Stats(lanes=len(lanes), method=method_of(lanes))
    stats.skipped_bytes = sum(job.size for job in plan.same)
    if dry_run:
        return stats, plan
    ctx = Ctx(direction, stats, progress, keep_mtime=True)
    await execute(direction, plan.copy, lanes, ctx, options or Options())
    for path in plan.delete:
        if direction == "upload":
            await lane.request("rm", {"path": path})
        else:
            await local(helper.remove, path)
    return stats, plan


def plan_summary(plan: SyncPlan) -> dict[str, Any]:
    """The plan as ``--dry-run`` shows it: destination paths by action."""
    return {
        "mkdir": plan.copy.dirs,
        "link": [{"path": path, "target": target} for path, target in plan.copy.links],
        "copy": [{"path": job.dst, "size": job.size} for job in plan.copy.files],
        "delete": plan.delete,
    }
