"""What to copy where: sources' trees (``helper.walk`` entries) mapped onto the destination with
scp's rules, and files cut into chunks (small files whole, so a lane batches many per
round trip)."""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass, field
from typing import Any

from bridge.transfer.lanes import TransferError
from bridge.transfer.limits import CHUNK, MAX_CHUNK, MIN_CHUNK

__all__ = [
    "CHUNK",
    "MAX_CHUNK",
    "MIN_CHUNK",
    "SMALL",
    "FileJob",
    "Plan",
    "SyncPlan",
    "chunks",
    "excluded",
    "plan_copy",
    "plan_sync",
]

SMALL = 1 << 20  # files up to this size travel whole, in one request with their hash


@dataclass(frozen=True)
class FileJob:
    src: str
    dst: str
    size: int
    mode: int
    mtime: int = 0  # the source's modification time, ns (resume and sync compare it)


@dataclass
class Plan:
    dirs: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (destination, target)
    files: list[FileJob] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


def chunks(size: int, chunk: int = CHUNK) -> list[tuple[int, int]]:
    """(offset, length) pairs covering ``size`` bytes."""
    return [(off, min(chunk, size - off)) for off in range(0, size, chunk)]


def plan_copy(
    sources: list[tuple[str, list[dict[str, Any]]]],
    dest: str,
    *,
    dest_is_dir: bool,
    recursive: bool,
) -> Plan:
    """``sources`` are (path, its walk); with several sources the destination must be a folder.
    A source goes *into* an existing destination folder (``DEST/name``), else becomes DEST."""
    if len(sources) > 1 and not dest_is_dir:
        raise TransferError(f"{dest}: not a directory (several sources need one)")
    plan = Plan()
    for src, entries in sources:
        if not entries:
            raise TransferError(f"{src}: no such file or directory")
        root = entries[0]
        if root["type"] == "dir" and not recursive:
            raise TransferError(f"{src}: is a directory (use -r)")
        name = posixpath.basename(src.rstrip("/")) or src
        top = posixpath.join(dest, name) if dest_is_dir else dest
        for e in entries:
            dst = posixpath.join(top, e["rel"]) if e["rel"] else top
            path = posixpath.join(src, e["rel"]) if e["rel"] else src
            if e["type"] == "dir":
                plan.dirs.append(dst)
            elif e["type"] == "link":
                plan.links.append((dst, e["target"]))
            else:
                plan.files.append(FileJob(path, dst, e["size"], e["mode"], e.get("mtime", 0)))
    return plan


@dataclass
class SyncPlan:
    """What ``sync`` does: ``copy`` (folders, links, files that differ), ``delete`` (destination
    paths absent from the source, deepest first), ``same`` (files already in place) and, with
    ``--checksum``, ``check``: files of equal size whose content hashes decide."""

    copy: Plan = field(default_factory=Plan)
    delete: list[str] = field(default_factory=list)
    same: list[FileJob] = field(default_factory=list)
    check: list[FileJob] = field(default_factory=list)

    def checked(self, differing: set[str]) -> None:
        """Settle ``check``: the jobs whose destination is in ``differing`` are copied."""
        for job in self.check:
            (self.copy.files if job.dst in differing else self.same).append(job)
        self.check = []


def excluded(rel: str, patterns: list[str]) -> bool:
    """rsync's rule, simplified: a pattern without ``/`` matches any path component's name (so
    an excluded folder takes its whole subtree), one with ``/`` the path from the root."""
    parts = rel.split("/") if rel else []
    for i, name in enumerate(parts):
        prefix = "/".join(parts[: i + 1])
        for pattern in patterns:
            if "/" in pattern.strip("/"):
                if fnmatch.fnmatchcase(prefix, pattern.strip("/")):
                    return True
            elif fnmatch.fnmatchcase(name, pattern.strip("/")):
                return True
    return False


def _same_time(a: int, b: int) -> bool:
    return a // 1_000_000_000 == b // 1_000_000_000  # whole seconds, as rsync compares


def plan_sync(
    src: str,
    src_entries: list[dict[str, Any]],
    dest: str,
    dest_entries: list[dict[str, Any]],
    *,
    checksum: bool = False,
    delete: bool = False,
    exclude: list[str] | None = None,
) -> SyncPlan:
    """Make ``dest`` a mirror of ``src`` (its contents, as ``rsync -a SRC/ DEST/``): walks in,
    a plan out. A file is the same when size and mtime (whole seconds) match, or, with
    ``checksum``, when the hashes the caller computes for ``check`` match."""
    patterns = exclude or []
    if not src_entries:
        raise TransferError(f"{src}: no such file or directory")
    theirs = {e["rel"]: e for e in dest_entries if not excluded(e["rel"], patterns)}
    plan = SyncPlan()
    wanted = set()
    for e in src_entries:
        rel = e["rel"]
        if excluded(rel, patterns):
            continue
        wanted.add(rel)
        dst = posixpath.join(dest, rel) if rel else dest
        have = theirs.get(rel)
        if e["type"] == "dir":
            if have is None or have["type"] != "dir":
                plan.copy.dirs.append(dst)
        elif e["type"] == "link":
            if have is None or have["type"] != "link" or have["target"] != e["target"]:
                plan.copy.links.append((dst, e["target"]))
        else:
            path = posixpath.join(src, rel) if rel else src
            job = FileJob(path, dst, e["size"], e["mode"], e.get("mtime", 0))
            if have is None or have["type"] != "file" or have["size"] != e["size"]:
                plan.copy.files.append(job)
            elif checksum:
                plan.check.append(job)
            elif _same_time(have.get("mtime", 0), job.mtime):
                plan.same.append(job)
            else:
                plan.copy.files.append(job)
    if delete:
        extra = [rel for rel in theirs if rel and rel not in wanted]
        extra.sort(key=lambda rel: (-rel.count("/"), rel))
        plan.delete = [posixpath.join(dest, rel) for rel in extra]
    return plan
