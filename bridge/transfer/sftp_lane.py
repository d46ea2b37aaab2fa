"""The fallback lane: the helper protocol answered over SFTP, for a space where ``python3``
cannot be run.

The engine stays the same (striping, resume manifests, verify-then-rename); each request is
done with SFTP operations on the lane's own SSH connection: chunks are written at their offsets
into the same ``.NAME.smc-part`` partial and renamed into place only after the whole-file
SHA-256 matches. SFTP cannot hash in the space, so the hash is computed here from the partial
*read back* over the lane (an upload's finish) or from a read of the source (a download's
``hash``): every byte is verified, at the price of reading it once more. No compression.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import stat
from typing import Any

import asyncssh

from bridge.transfer.helper import part_path, unpack
from bridge.transfer.lanes import Frame, Lane, LaneDead, TransferError

__all__ = ["SftpLane"]

_READ = 1 << 20  # bytes per read when hashing a file back
_GONE = (asyncssh.Error, ConnectionError, EOFError, BrokenPipeError)


class SftpLane(Lane):
    method = "sftp"

    def __init__(self, index: int, sftp: asyncssh.SFTPClient, close: Any = None) -> None:
        super().__init__(index)
        self._sftp = sftp
        self._close = close
        self._home: str | None = None
        self._made: set[str] = set()  # folders known to exist (made or seen) this run

    async def request(self, kind: str, header: dict[str, Any], data: bytes = b"") -> Frame:
        if self.error is not None:
            raise LaneDead(self.error)
        path = header.get("path", ".")
        path = path[2:] if path.startswith("~/") else "." if path == "~" else path
        try:
            return await self._do(kind, header, path, data)
        except asyncssh.SFTPError as exc:
            raise TransferError(f"{path}: {exc.reason}") from None
        except _GONE as exc:
            self.error = f"lane {self.index}: {exc or type(exc).__name__}"
            raise LaneDead(self.error) from None

    async def _do(self, kind: str, h: dict[str, Any], path: str, data: bytes) -> Frame:
        if kind == "put":
            whole = "sha256" in h
            raw = unpack(h.get("flags", 0), data)
            await self._write(path, h["offset"], raw, truncate=whole)
            if whole:
                await self._finish(path, h)
            return _ok()
        if kind == "fin":
            await self._finish(path, h)
            return _ok()
        if kind == "get":
            raw = await self._read(path, h["offset"], h["length"])
            reply: dict[str, Any] = {"flags": 0, "length": len(raw)}
            if h.get("hash"):  # a whole small file: what was read is the file
                whole = h["offset"] == 0 and len(raw) < h["length"]
                reply["sha256"] = await self._hash(path) if not whole else _sha(raw)
            return "chunk", reply, raw
        if kind == "part":
            return _ok(size=await self._partial(path, bool(h.get("keep"))))
        if kind == "hash":
            return _ok(sha256=await self._hash(path))
        if kind == "list":
            root = await self._abspath(path)
            return _ok(root=root, entries=await self._walk(path, bool(h.get("top"))))
        if kind == "mkdir":
            await self._makedirs(path)
            return _ok()
        if kind == "rm":
            await self._remove(path)
            return _ok()
        if kind == "link":
            await self._makedirs(posixpath.dirname(path))
            if await self._lexists(path):
                await self._sftp.remove(path)
            await self._sftp.symlink(h["target"], path)
            return _ok()
        raise TransferError(f"unknown request {kind!r}")

    async def _makedirs(self, folder: str) -> None:
        if folder and folder not in self._made:
            await self._sftp.makedirs(folder, exist_ok=True)
            self._made.add(folder)

    async def _write(self, path: str, offset: int, data: bytes, *, truncate: bool) -> None:
        await self._makedirs(posixpath.dirname(path))
        pflags = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | (asyncssh.FXF_TRUNC if truncate else 0)
        attrs = asyncssh.SFTPAttrs(permissions=0o600)
        async with self._sftp.open(part_path(path), pflags, attrs, encoding=None) as f:
            await f.write(data, offset)
        self.wire_bytes += len(data)

    async def _read(self, path: str, offset: int, length: int) -> bytes:
        async with self._sftp.open(path, "rb", encoding=None) as f:
            raw: bytes = await f.read(length, offset)
        self.wire_bytes += len(raw)
        return raw

    async def _hash(self, path: str) -> str:
        h = hashlib.sha256()
        async with self._sftp.open(path, "rb", encoding=None) as f:
            while block := await f.read(_READ):
                assert isinstance(block, bytes)
                self.wire_bytes += len(block)
                h.update(block)
        return h.hexdigest()

    async def _finish(self, path: str, h: dict[str, Any]) -> None:
        """The helper's ``finish``: the partial (made empty for an empty file) must have the
        size and SHA-256 given, then gets the mode and mtime and is renamed into place; on a
        mismatch (or a failed operation in the space) it is removed and the destination stays
        untouched. A finish that is cancelled (the caller killed) or whose lane is lost leaves
        the partial alone: it may be a re-run's by then, and removing it under that run's feet
        failed the re-run with "No such file or directory"."""
        part = part_path(path)
        await self._write(path, 0, b"", truncate=False)
        try:
            got = (await self._sftp.stat(part)).size
            if got != h["size"]:
                raise TransferError(
                    f"size mismatch for {path}: {got} bytes arrived, {h['size']} expected"
                )
            if await self._hash(part) != h["sha256"]:
                raise TransferError(f"checksum mismatch for {path}")
            mode, mtime = h.get("mode"), h.get("mtime")
            if mode is not None:
                await self._sftp.chmod(part, mode & 0o7777)
            if mtime is not None:
                await self._sftp.utime(part, ns=(mtime, mtime))
            await self._sftp.posix_rename(part, path)
        except (TransferError, asyncssh.SFTPError):
            with contextlib.suppress(Exception):
                await self._sftp.remove(part)
            raise

    async def _partial(self, path: str, keep: bool) -> int | None:
        part = part_path(path)
        if not keep:
            with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                await self._sftp.remove(part)
            return None
        try:
            return int((await self._sftp.stat(part)).size or 0)
        except asyncssh.SFTPError:
            return None

    async def _lexists(self, path: str) -> bool:
        try:
            await self._sftp.lstat(path)
        except asyncssh.SFTPNoSuchFile:
            return False
        return True

    async def _remove(self, path: str) -> None:
        """A file or link removed, or a folder if empty (one still holding excluded entries
        stays), as the helper's ``rm``."""
        try:
            attrs = await self._sftp.lstat(path)
        except asyncssh.SFTPNoSuchFile:
            return
        if stat.S_ISDIR(attrs.permissions or 0):
            with contextlib.suppress(asyncssh.SFTPFailure):
                await self._sftp.rmdir(path)
        else:
            await self._sftp.remove(path)

    async def _abspath(self, path: str) -> str:
        """``os.path.abspath`` in the space: the home joined, links not resolved."""
        if posixpath.isabs(path):
            return posixpath.normpath(path)
        if self._home is None:
            self._home = await self._sftp.realpath(".")
        return posixpath.normpath(posixpath.join(self._home, path))

    async def _walk(self, root: str, top: bool) -> list[dict[str, Any]]:
        """The helper's ``walk`` over SFTP: links never followed; sizes, modes and mtimes from
        one listing per folder."""
        out: list[dict[str, Any]] = []

        async def entry(path: str, rel: str, attrs: asyncssh.SFTPAttrs) -> None:
            mode = attrs.permissions or 0
            if stat.S_ISLNK(mode):
                out.append({"rel": rel, "type": "link", "target": await self._sftp.readlink(path)})
            elif stat.S_ISDIR(mode):
                out.append({"rel": rel, "type": "dir", "mode": mode & 0o7777})
                self._made.add(path)
                if top and not rel:
                    return
                names = [n for n in await self._sftp.readdir(path) if n.filename not in (".", "..")]
                for name in sorted(names, key=lambda n: str(n.filename)):
                    sub = str(name.filename)
                    await entry(
                        posixpath.join(path, sub), f"{rel}/{sub}" if rel else sub, name.attrs
                    )
            else:
                mtime = int(attrs.mtime or 0) * 1_000_000_000
                if attrs.mtime_ns is not None:
                    mtime = int(attrs.mtime_ns)
                out.append(
                    {
                        "rel": rel,
                        "type": "file",
                        "size": attrs.size or 0,
                        "mode": mode & 0o7777,
                        "mtime": mtime,
                    }
                )

        await entry(root, "", await self._sftp.lstat(root))
        return out

    def pack(self, data: bytes) -> tuple[int, bytes]:
        """SFTP writes the bytes as they are: nothing to compress for."""
        return 0, data

    async def close(self) -> None:
        if self.error is None:
            self.error = f"lane {self.index}: closed"
        with contextlib.suppress(Exception):
            self._sftp.exit()
        if self._close is not None:
            with contextlib.suppress(Exception):
                await self._close()


def _ok(**fields: Any) -> Frame:
    return "ok", fields, b""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
