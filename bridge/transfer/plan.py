"""What to copy where: sources' trees (``helper.walk`` entries) mapped onto the destination with
scp's rules, and files cut into chunks (small files whole, so a lane batches many per
round trip)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from bridge.transfer.lanes import TransferError

__all__ = ["CHUNK", "MAX_CHUNK", "MIN_CHUNK", "SMALL", "FileJob", "Plan", "chunks", "plan_copy"]

CHUNK = 4 << 20  # a large file's unit of striping (and of resume)
MIN_CHUNK, MAX_CHUNK = 64 << 10, 64 << 20  # the range a caller may choose
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
