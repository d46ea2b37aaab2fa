"""Careful file replacement for files a user also edits (ssh config, known_hosts, AWS config).

Generic, stdlib only, and below every other layer: ``bridge.ssh`` and ``bridge.aws`` both write
through it.

A write must never lose an edit the user made since we read the file, must never leave a
half-written file behind a crash, and must keep a symlinked file a symlink. So every write goes
to a temporary file in the target's own directory, is fsynced, and is renamed over the *resolved*
target only after the target is re-read and found unchanged since the snapshot the new content
was computed from.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class FileChangedError(Exception):
    """The file changed between our read and our write; the write did not happen."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


@dataclass(frozen=True)
class Snapshot:
    """What a file held when we read it; ``data is None`` means it did not exist."""

    path: Path
    data: bytes | None
    mtime_ns: int | None = None
    size: int | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None

    @property
    def exists(self) -> bool:
        return self.data is not None


def read_snapshot(path: Path) -> Snapshot:
    """Read ``path`` (following symlinks) with the metadata a later write needs to check against.

    Raises ``OSError`` for anything but absence (permissions, a directory in the way), so the
    caller can refuse instead of treating an unreadable file as empty.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            # Opening a FIFO would block; a directory or device is not a config file either.
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except FileNotFoundError:
        return Snapshot(path=path, data=None)
    return Snapshot(
        path=path,
        data=data,
        mtime_ns=st.st_mtime_ns,
        size=st.st_size,
        mode=st.st_mode & 0o7777,
        uid=st.st_uid,
        gid=st.st_gid,
    )


def _unchanged(expected: Snapshot) -> bool:
    try:
        current = read_snapshot(expected.path)
    except OSError:
        return False
    if current.data != expected.data:
        return False
    return current.mtime_ns == expected.mtime_ns and current.size == expected.size


def resolve_target(path: Path) -> Path:
    """The real file behind ``path``: writing through a symlink must keep the link in place."""
    return Path(os.path.realpath(path))


def atomic_write(
    path: Path,
    data: bytes,
    *,
    expected: Snapshot | None,
    mode: int = 0o600,
    keep_metadata: bool = True,
) -> None:
    """Replace ``path``'s content with ``data`` atomically.

    ``expected`` is the snapshot ``data`` was derived from: if the file no longer matches it
    (content, mtime or size, or existence), ``FileChangedError`` is raised and nothing is written.
    ``None`` skips the check, for files only we write. With ``keep_metadata`` an existing file
    keeps its mode and (where we are allowed to set it) its owner; otherwise, and for a new
    file, the result has ``mode`` and belongs to us.
    """
    target = resolve_target(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing: os.stat_result | None
    try:
        existing = target.stat()
    except FileNotFoundError:
        existing = None
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            _copy_metadata(f.fileno(), existing if keep_metadata else None, mode)
        if expected is not None and not _unchanged(expected):
            raise FileChangedError(path)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(target.parent)


def _copy_metadata(fd: int, existing: os.stat_result | None, mode: int) -> None:
    if existing is None:
        os.fchmod(fd, mode)
        return
    os.fchmod(fd, existing.st_mode & 0o7777)
    if sys.platform != "win32" and (existing.st_uid, existing.st_gid) != (
        os.geteuid(),
        os.getegid(),
    ):
        # Only root (or the owner, for its own groups) may do this; otherwise the new file is
        # ours, which is what an editor saving the file would also produce.
        with contextlib.suppress(PermissionError):
            os.fchown(fd, existing.st_uid, existing.st_gid)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable; a no-op where directories cannot be opened (Windows)."""
    if sys.platform == "win32":
        return
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def create_exclusive(path: Path, data: bytes, *, mode: int = 0o600) -> bool:
    """Write a new file; return False (and write nothing) if ``path`` already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink()
        raise
    fsync_dir(path.parent)
    return True


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Serialise smconnect processes (CLI and daemon) editing files in ``directory``.

    The lock is an advisory ``flock`` on the directory itself, so no lock file is left behind;
    it does not stop a user's editor, which the snapshot check in ``atomic_write`` covers.
    Where ``flock`` does not exist (Windows) this only documents intent.
    """
    if sys.platform == "win32":
        yield
        return
    import fcntl

    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(dir_fd)


def remove_file(path: Path) -> bool:
    """Delete ``path`` if it exists; return whether it did."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def remove_empty_dir(path: Path) -> bool:
    """Delete ``path`` only if nothing (of the user's) is left in it."""
    try:
        path.rmdir()
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise
    return True
