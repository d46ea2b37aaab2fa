"""Resume: which chunks of a large file already landed in its partial on the writing side.

A manifest is an append-only text file: the first line is the file's identity as JSON (source,
destination, size, modification time, chunk size), each further line the offset of a chunk that
the writing side confirmed. Appending one short line per 4 MiB chunk costs nothing, and a torn
last line (a kill mid-write) is simply ignored. A manifest whose identity differs from the
source's current one (the source changed) is worth nothing and is discarded.

Uploads keep their manifests in the local state directory (the helper in the space stays
stateless); downloads keep theirs beside the partial (``.NAME.smc-resume``), so the partial and
its record go away together.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Any

__all__ = ["Manifest", "download_manifest_path", "upload_manifest_path"]


def upload_manifest_path(state_dir: str, scope: str, src: str, dst: str) -> str:
    """A file per (space, source, destination) under ``state_dir``."""
    key = hashlib.sha256(json.dumps([scope, src, dst]).encode()).hexdigest()[:32]
    return os.path.join(state_dir, key + ".smc-resume")


def download_manifest_path(dst: str) -> str:
    head, name = os.path.split(dst)
    return os.path.join(head, "." + name + ".smc-resume")


class Manifest:
    """The record of one file's landed chunks; ``done`` holds their offsets."""

    def __init__(self, path: str, identity: dict[str, Any]) -> None:
        self.path = path
        self.identity = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        self.done: set[int] = set()
        self._fd: int | None = None

    def load(self) -> set[int]:
        """The offsets recorded for this identity (empty when the file is missing, unreadable
        or describes another version of the source)."""
        try:
            with open(self.path, "rb") as f:
                lines = f.read().split(b"\n")
        except OSError:
            return set()
        if not lines or lines[0].decode(errors="replace") != self.identity:
            return set()
        for line in lines[1:-1]:  # the last piece is "" or a torn line
            with contextlib.suppress(ValueError):
                self.done.add(int(line))
        return set(self.done)

    def start(self, keep: bool) -> None:
        """Open for appending; without ``keep`` begin afresh with just the identity."""
        head = os.path.dirname(self.path)
        if head:
            os.makedirs(head, mode=0o700, exist_ok=True)
        if not keep:
            self.done.clear()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
        self._fd = os.open(self.path, flags, 0o600)
        if not keep:
            os.write(self._fd, self.identity.encode() + b"\n")

    def add(self, offset: int) -> None:
        self.done.add(offset)
        if self._fd is not None:
            os.write(self._fd, b"%d\n" % offset)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def drop(self) -> None:
        """The file is complete (or its partial is gone): the record is of no further use."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
