"""A copy over lanes, either direction: plan, then chunk / whole-file / finish items for the
scheduler. The writing side (the helper in the space, or ``helper``'s functions run here) puts
chunks at their offsets into a partial file and renames it into place once the whole-file
SHA-256 matches the reading side's."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from bridge.transfer import helper
from bridge.transfer.lanes import Grow, Item, Lane, Scheduler, TransferError
from bridge.transfer.plan import CHUNK, SMALL, FileJob, Plan, chunks, plan_copy
from bridge.transfer.resume import Manifest, download_manifest_path, upload_manifest_path

__all__ = [
    "Ctx",
    "Direction",
    "Options",
    "Stats",
    "copy",
    "execute",
    "local",
    "local_walk",
    "method_of",
    "remote_walk",
]

Direction = Literal["upload", "download"]
_T = TypeVar("_T")


@dataclass
class Stats:
    total: int = 0
    bytes: int = 0
    skipped_bytes: int = 0
    files: int = 0
    total_files: int = 0
    lanes: int = 0
    wire_bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    method: str = "helper"  # "sftp": the lanes fell back to SFTP (no python3 in the space)

    def summary(self) -> dict[str, Any]:
        return {
            "bytes": self.bytes,
            "wire_bytes": self.wire_bytes,
            "skipped_bytes": self.skipped_bytes,
            "files": self.files,
            "seconds": round(self.seconds, 3),
            "lanes": self.lanes,
            "method": self.method,
        }


@dataclass
class _File:
    """A file in flight: its job and how many chunks are still to land."""

    job: FileJob
    left: int
    stamp: tuple[int, int] | None = None  # a local source's (size, mtime_ns) when planned
    manifest: Manifest | None = None  # the record of landed chunks (large files)


@dataclass
class Ctx:
    """What every item of one run shares: its direction, its counters, whom to tell."""

    direction: Direction
    stats: Stats
    progress: Callable[[Stats], None]
    keep_mtime: bool = False  # sync: the destination keeps the source's mtime

    def mtime(self, job: FileJob) -> int | None:
        return job.mtime if self.keep_mtime else None

    def landed(self, n: int) -> None:
        self.stats.bytes += n
        self.progress(self.stats)

    def finished(self) -> None:
        self.stats.files += 1
        self.progress(self.stats)


def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _check_unchanged(f: _File) -> None:
    if f.stamp is not None and _stamp(f.job.src) != f.stamp:
        raise TransferError(f"{f.job.src}: changed during the transfer; run the copy again")


@dataclass
class _Chunk:
    heavy: ClassVar[bool] = True
    ctx: Ctx
    file: _File
    offset: int
    length: int

    async def run(self, lane: Lane) -> list[Item]:
        job = self.file.job
        if self.ctx.direction == "upload":
            data = await local(helper.read_chunk, job.src, self.offset, self.length)
            flags, payload = lane.pack(data)
            await lane.request(
                "put", {"path": job.dst, "offset": self.offset, "flags": flags}, payload
            )
        else:
            _, h, payload = await lane.request(
                "get", {"path": job.src, "offset": self.offset, "length": self.length}
            )
            data = helper.unpack(h["flags"], payload)
            await local(helper.write_chunk, job.dst, self.offset, data)
        if len(data) != self.length:
            raise TransferError(f"{job.src}: changed during the transfer; run the copy again")
        if self.file.manifest is not None:
            self.file.manifest.add(self.offset)
        self.ctx.landed(self.length)
        self.file.left -= 1
        return [_Finish(self.ctx, self.file)] if not self.file.left else []


@dataclass
class _Finish:
    heavy: ClassVar[bool] = False
    ctx: Ctx
    file: _File

    async def run(self, lane: Lane) -> list[Item]:
        job = self.file.job
        try:
            if self.ctx.direction == "upload":
                sha = await local(helper.file_hash, job.src)
                _check_unchanged(self.file)
                header = {"path": job.dst, "size": job.size, "sha256": sha, "mode": job.mode}
                await lane.request("fin", header | {"mtime": self.ctx.mtime(job)})
            else:
                _, h, _ = await lane.request("hash", {"path": job.src})
                mtime = self.ctx.mtime(job)
                await local(helper.finish, job.dst, job.size, h["sha256"], job.mode, mtime)
        except TransferError:
            if self.file.manifest is not None:  # the partial was removed: start afresh
                self.file.manifest.drop()
            raise
        if self.file.manifest is not None:
            self.file.manifest.drop()
        self.ctx.finished()
        return []


@dataclass
class _Whole:
    """A small file in one request: data and hash together."""

    heavy: ClassVar[bool] = False
    ctx: Ctx
    file: _File

    async def run(self, lane: Lane) -> list[Item]:
        job = self.file.job
        if self.ctx.direction == "upload":
            data = await local(helper.read_chunk, job.src, 0, job.size + 1)
            _check_unchanged(self.file)
            if len(data) != job.size:
                raise TransferError(f"{job.src}: changed during the transfer; run the copy again")
            flags, payload = lane.pack(data)
            header = {"path": job.dst, "offset": 0, "flags": flags, "size": job.size}
            header |= {"sha256": hashlib.sha256(data).hexdigest(), "mode": job.mode}
            header |= {"mtime": self.ctx.mtime(job)}
            await lane.request("put", header, payload)
        else:
            _, h, payload = await lane.request(
                "get", {"path": job.src, "offset": 0, "length": job.size + 1, "hash": True}
            )
            data = helper.unpack(h["flags"], payload)

            def write() -> None:
                helper.write_chunk(job.dst, 0, data, truncate=True)
                helper.finish(job.dst, len(data), h["sha256"], job.mode, self.ctx.mtime(job))

            await local(write)
            if len(data) != job.size:
                raise TransferError(f"{job.src}: changed during the transfer; run the copy again")
        self.ctx.landed(job.size)
        self.ctx.finished()
        return []


async def remote_walk(lane: Lane, path: str, *, top: bool = False) -> tuple[str, list[Any]]:
    _, h, _ = await lane.request("list", {"path": path, "top": top})
    return h["root"], h["entries"]


async def local(fn: Callable[..., _T], *args: Any) -> _T:
    """Run a file operation on this machine in a thread, its OSError as one line. A thread
    cannot be stopped: when the run is cancelled, this still waits for it, so a cancelled run
    has ended only once its writes and renames here have (a re-run waits for that)."""
    work = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        if not work.cancelled():
            work.exception()  # retrieved: the run is cancelled, its failure no longer matters
        raise
    except OSError as exc:
        name = getattr(exc, "filename", None)
        text = exc.strerror or str(exc)
        raise TransferError(f"{name}: {text}" if name else text) from None


def local_walk(path: str, *, top: bool = False) -> list[dict[str, Any]]:
    try:
        return helper.walk(os.path.expanduser(path), top)
    except FileNotFoundError:
        raise TransferError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise TransferError(f"{path}: {exc.strerror or exc}") from None


def _expand(path: str) -> str:
    return os.path.expanduser(path)


async def _make_plan(
    direction: Direction, sources: list[str], dest: str, lane: Lane, recursive: bool
) -> Plan:
    if direction == "upload":
        walks = [(_expand(s), await asyncio.to_thread(local_walk, s)) for s in sources]
        try:
            root, top = await remote_walk(lane, dest, top=True)
            dest_is_dir = top[0]["type"] == "dir"
            dest = root
        except TransferError:
            dest_is_dir = dest.endswith("/")
    else:
        walks = []
        for s in sources:
            root, entries = await remote_walk(lane, s)
            walks.append((root, entries))
        dest = _expand(dest)
        dest_is_dir = await asyncio.to_thread(os.path.isdir, dest) or dest.endswith("/")
    return plan_copy(walks, dest, dest_is_dir=dest_is_dir, recursive=recursive)


async def _resume(
    direction: Direction, job: FileJob, lane: Lane, state_dir: str | None, scope: str, chunk: int
) -> tuple[Manifest | None, set[int]]:
    """A large file's manifest and the chunk offsets already in its partial; the partial is
    emptied when nothing can be resumed (no record, a changed source, a lost partial)."""
    identity = {"src": job.src, "dst": job.dst, "size": job.size, "mtime": job.mtime}
    identity["chunk"] = chunk
    if direction == "upload":
        if state_dir is None:
            await lane.request("part", {"path": job.dst, "keep": False})
            return None, set()
        manifest = Manifest(upload_manifest_path(state_dir, scope, job.src, job.dst), identity)
        done = await local(manifest.load)
        _, h, _ = await lane.request("part", {"path": job.dst, "keep": bool(done)})
        present = h["size"] is not None
    else:
        manifest = Manifest(download_manifest_path(job.dst), identity)
        done = await local(manifest.load)
        present = await local(helper.partial, job.dst, bool(done)) is not None
    if not present:
        done = set()
    await local(manifest.start, bool(done))
    return manifest, done


@dataclass
class Options:
    """How a run behaves beyond its paths: ``state_dir`` keeps upload manifests (none: no
    resume), keyed by ``scope`` (the space); large files go in ``chunk``-sized pieces."""

    state_dir: str | None = None
    scope: str = ""
    chunk: int = CHUNK
    grow: Grow | None = None  # ``auto``: adds lanes during the run (see ``auto.py``)


async def copy(
    direction: Direction,
    sources: list[str],
    dest: str,
    lanes: list[Lane],
    *,
    recursive: bool = False,
    progress: Callable[[Stats], None] = lambda stats: None,
    state_dir: str | None = None,
    scope: str = "",
    chunk: int = CHUNK,
    grow: Grow | None = None,
) -> Stats:
    """Copy ``sources`` to ``dest`` over started ``lanes``: remote paths are the helper's
    (relative = the space user's home), local ones this process's. Uploads record landed
    chunks under ``state_dir`` (none: no resume), keyed by ``scope`` (the space) and paths;
    downloads beside their partials. Files above ``SMALL`` go in ``chunk``-sized pieces."""
    plan = await _make_plan(direction, sources, dest, lanes[0], recursive)
    ctx = Ctx(direction, Stats(lanes=len(lanes)), progress)
    return await execute(direction, plan, lanes, ctx, Options(state_dir, scope, chunk, grow))


async def execute(
    direction: Direction, plan: Plan, lanes: list[Lane], ctx: Ctx, opts: Options
) -> Stats:
    """Run a plan: its folders and links, then its files striped over the lanes."""
    stats = ctx.stats
    stats.method = method_of(lanes)
    stats.total += plan.bytes
    stats.total_files += len(plan.files)
    for path in plan.dirs:
        if direction == "upload":
            await lanes[0].request("mkdir", {"path": path})
        else:
            await local(os.makedirs, path, 0o777, True)
    for path, target in plan.links:
        if direction == "upload":
            await lanes[0].request("link", {"path": path, "target": target})
        else:
            await local(helper.make_link, path, target)
    items: list[Item] = []
    manifests: list[Manifest] = []
    try:
        for job in plan.files:
            stamp = _stamp(job.src) if direction == "upload" else None
            if job.size <= SMALL:
                items.append(_Whole(ctx, _File(job, 1, stamp)))
                continue
            manifest, done = await _resume(
                direction, job, lanes[0], opts.state_dir, opts.scope, opts.chunk
            )
            if manifest is not None:
                manifests.append(manifest)
            todo = [(off, n) for off, n in chunks(job.size, opts.chunk) if off not in done]
            skipped = job.size - sum(n for _, n in todo)
            stats.skipped_bytes += skipped
            stats.bytes += skipped
            f = _File(job, len(todo), stamp, manifest)
            items.extend(_Chunk(ctx, f, off, n) for off, n in todo)
            if not todo:
                items.append(_Finish(ctx, f))
        ctx.progress(stats)
        scheduler = Scheduler(lanes)
        grow = opts.grow

        async def growing(add: Callable[[Lane], None]) -> None:
            def added(lane: Lane) -> None:
                add(lane)
                stats.lanes = len(scheduler.lanes)

            assert grow is not None
            await grow(added)

        await scheduler.run(items, growing if grow is not None else None)
    finally:
        for manifest in manifests:
            manifest.close()
    stats.wire_bytes = sum(lane.wire_bytes for lane in scheduler.lanes)
    stats.method = method_of(scheduler.lanes)
    stats.seconds = time.monotonic() - stats.started
    return stats


def method_of(lanes: list[Lane]) -> str:
    """How the data moves: "sftp" when any lane fell back to it, else "helper"."""
    return "sftp" if any(lane.method == "sftp" for lane in lanes) else "helper"
