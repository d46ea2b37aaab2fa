"""The transfer helper: run in the space (``python3 -c 'import sys;exec(...)'``, fed this file's
source over stdin, so nothing is installed or left behind) and imported locally, so that both
ends share one framing and one write-at-offset / verify-then-rename implementation.

Stdlib only, Python 3.8+. A frame is ``!BII`` (kind, header length, data length), a JSON header
and raw data. Requests carry an ``id``; the helper answers each in order with ``ok``/``chunk``/
``err`` echoing it. Files are written at offsets into ``.NAME.smc-part`` beside the destination
and renamed into place only when the whole-file SHA-256 matches.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import struct
import sys
import zlib
from typing import Any, BinaryIO

HEAD = struct.Struct("!BII")
KINDS = [
    "put",
    "fin",
    "get",
    "hash",
    "list",
    "mkdir",
    "link",
    "ok",
    "chunk",
    "err",
    "bye",
    "part",
    "rm",
]
CODE = {k: i for i, k in enumerate(KINDS)}
Z = 1  # flags bit: data is zlib-compressed
MIN_SAVING = 0.10  # compress a chunk only when it saves at least this much
SAMPLE = 64 << 10  # what a large chunk's compressibility is judged by


def encode(kind: str, header: dict[str, Any], data: bytes = b"") -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    return HEAD.pack(CODE[kind], len(raw), len(data)) + raw + data


class Decoder:
    """Sans-I/O: ``feed`` bytes, get whole frames (kind, header, data) back."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, dict[str, Any], bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= HEAD.size:
            code, hlen, dlen = HEAD.unpack_from(self._buf)
            end = HEAD.size + hlen + dlen
            if len(self._buf) < end or code >= len(KINDS):
                if code >= len(KINDS):
                    raise ValueError(f"bad frame kind {code}")
                break
            header = json.loads(bytes(self._buf[HEAD.size : HEAD.size + hlen]))
            out.append((KINDS[code], header, bytes(self._buf[HEAD.size + hlen : end])))
            del self._buf[:end]
        return out


def _saves(raw: bytes, packed: bytes) -> bool:
    return len(packed) <= len(raw) * (1 - MIN_SAVING)


def pack(data: bytes) -> tuple[int, bytes]:
    """(flags, payload): level-1 zlib only when it saves at least ``MIN_SAVING``. A large
    piece is judged by a sample from its middle first, so random data costs one 64 KiB
    compression, not 4 MiB of it (zlib would be most of the user side's CPU per MiB)."""
    if len(data) < 256:
        return 0, data
    if len(data) > 4 * SAMPLE:
        sample = data[len(data) // 2 : len(data) // 2 + SAMPLE]
        if not _saves(sample, zlib.compress(sample, 1)):
            return 0, data
    z = zlib.compress(data, 1)
    return (Z, z) if _saves(data, z) else (0, data)


def unpack(flags: int, payload: bytes) -> bytes:
    return zlib.decompress(payload) if flags & Z else payload


def part_path(path: str) -> str:
    head, name = os.path.split(path)
    return os.path.join(head, "." + name + ".smc-part")


def write_chunk(path: str, offset: int, data: bytes, truncate: bool = False) -> None:
    """Write at ``offset`` into the partial file beside ``path`` (made, with its folders, on
    first use; several lanes' helpers write the same partial at their own offsets). A whole
    file ``truncate``s, so a stale partial of an earlier attempt cannot lengthen it."""
    head = os.path.dirname(path)
    if head:
        os.makedirs(head, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0)
    fd = os.open(part_path(path), flags, 0o600)
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


def partial(path: str, keep: bool) -> int | None:
    """The size of ``path``'s partial (None: there is none); without ``keep`` it is removed,
    so a copy that cannot resume starts from an empty partial."""
    part = part_path(path)
    if not keep:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)
        return None
    try:
        return os.path.getsize(part)
    except OSError:
        return None


def file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def finish(
    path: str, size: int, sha256: str, mode: int | None = None, mtime: int | None = None
) -> None:
    """Rename the partial into place when it has ``size`` bytes hashing to ``sha256``; on a
    mismatch the partial is removed and the destination (if any) stays untouched. ``mtime``
    (ns) is kept when given, so that a later sync sees the file as the same."""
    part = part_path(path)
    if not os.path.exists(part):  # an empty file has no chunk: make its partial here
        write_chunk(path, 0, b"")
    try:
        got = os.path.getsize(part)
        if got != size:
            raise OSError(f"size mismatch for {path}: {got} bytes arrived, {size} expected")
        if file_hash(part) != sha256:
            raise OSError(f"checksum mismatch for {path}")
        if mode is not None:
            os.chmod(part, mode & 0o7777)
        if mtime is not None:
            os.utime(part, ns=(mtime, mtime))
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise


def read_chunk(path: str, offset: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def walk(root: str, top: bool = False) -> list[dict[str, Any]]:
    """The tree at ``root`` (a file or a folder), never following symlinks: entries with
    ``rel`` (posix, "" for the root), ``type`` (file/dir/link), ``size``, ``mode``, ``target``;
    with ``top``, the root alone."""
    out: list[dict[str, Any]] = []

    def entry(path: str, rel: str) -> None:
        st = os.lstat(path)
        if os.path.islink(path):
            out.append({"rel": rel, "type": "link", "target": os.readlink(path)})
        elif os.path.isdir(path):
            out.append({"rel": rel, "type": "dir", "mode": st.st_mode & 0o7777})
            if top and not rel:
                return
            for name in sorted(os.listdir(path)):
                entry(os.path.join(path, name), rel + "/" + name if rel else name)
        else:
            out.append(
                {
                    "rel": rel,
                    "type": "file",
                    "size": st.st_size,
                    "mode": st.st_mode & 0o7777,
                    "mtime": st.st_mtime_ns,
                }
            )

    entry(root, "")
    return out


def remove(path: str) -> None:
    """Remove a file, a link or an empty folder (one still holding excluded files stays)."""
    if os.path.isdir(path) and not os.path.islink(path):
        try:
            os.rmdir(path)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def make_link(path: str, target: str) -> None:
    head = os.path.dirname(path)
    if head:
        os.makedirs(head, exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


def handle(kind: str, h: dict[str, Any], data: bytes) -> bytes:
    """One request to its reply frame (errors become ``err`` frames, never a crash)."""
    rid = h.get("id")
    try:
        path = os.path.expanduser(h.get("path", "."))
        if kind == "put":
            whole = "sha256" in h
            write_chunk(path, h["offset"], unpack(h.get("flags", 0), data), whole)
            if whole:  # a whole small file: written and finished in one request
                finish(path, h["size"], h["sha256"], h.get("mode"), h.get("mtime"))
            return encode("ok", {"id": rid})
        if kind == "fin":
            finish(path, h["size"], h["sha256"], h.get("mode"), h.get("mtime"))
            return encode("ok", {"id": rid})
        if kind == "get":
            raw = read_chunk(path, h["offset"], h["length"])
            flags, payload = pack(raw)
            reply: dict[str, Any] = {"id": rid, "flags": flags, "length": len(raw)}
            if h.get("hash"):
                reply["sha256"] = file_hash(path)
            return encode("chunk", reply, payload)
        if kind == "part":
            return encode("ok", {"id": rid, "size": partial(path, bool(h.get("keep")))})
        if kind == "hash":
            return encode("ok", {"id": rid, "sha256": file_hash(path)})
        if kind == "list":
            return encode(
                "ok",
                {
                    "id": rid,
                    "root": os.path.abspath(path),
                    "entries": walk(path, bool(h.get("top"))),
                },
            )
        if kind == "mkdir":
            os.makedirs(path, exist_ok=True)
            return encode("ok", {"id": rid})
        if kind == "rm":
            remove(path)
            return encode("ok", {"id": rid})
        if kind == "link":
            make_link(path, h["target"])
            return encode("ok", {"id": rid})
        raise ValueError(f"unknown request {kind!r}")
    except Exception as exc:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        name = getattr(exc, "filename", None)
        return encode("err", {"id": rid, "message": f"{name}: {text}" if name else text})


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    decoder = Decoder()
    stdout.write(encode("ok", {"id": "hello", "version": 1}))
    stdout.flush()
    while True:
        block = stdin.read1(1 << 20) if hasattr(stdin, "read1") else stdin.read(1 << 16)
        if not block:
            return
        for kind, h, data in decoder.feed(block):
            if kind == "bye":
                return
            stdout.write(handle(kind, h, data))
        stdout.flush()


def source() -> bytes:
    """This file's text, as sent to the space."""
    with open(__file__, "rb") as f:
        return f.read()


def bootstrap() -> str:
    """The ``python3 -c`` code that reads exactly the helper's source from stdin and runs it
    (what follows on stdin is the protocol)."""
    return f"import sys;exec(sys.stdin.buffer.read({len(source())}))"


def command(python: str = "python3") -> str:
    """The exec command that starts the helper."""
    return f"{python} -c '{bootstrap()}'"


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
