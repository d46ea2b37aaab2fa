"""smconnect's own known_hosts file: one entry per space alias, owned by the daemon.

A space gets a new host key every time its app starts, so a key learnt once cannot be trusted
forever; instead the daemon learns the key over the SSM channel (authenticated by AWS) just
before each connection and replaces the alias's entry here. ssh then checks the key strictly
(``StrictHostKeyChecking yes`` in our config), and the user's own ``~/.ssh/known_hosts`` is
never touched. ssh itself never writes this file (``UpdateHostKeys no``), so rewriting it
whole, atomically, cannot lose anything.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from collections.abc import Iterable
from pathlib import Path

from bridge import fsutil
from bridge.ssh.aliases import host_key_alias
from bridge.ssh.errors import SshConfigError
from bridge.ssh.paths import SshPaths

# Our aliases: a prefix, a 63-character space name, and at most a 63-character domain id; a
# longer "alias" did not come from our scheme.
_ALIAS_RE = re.compile(r"[A-Za-z0-9_.-]{1,255}\Z")
_KEYTYPE_RE = re.compile(r"[A-Za-z0-9@._+-]+\Z")


class KnownHostsError(SshConfigError):
    """Our known_hosts file could not be read or written, or a key is malformed."""


def _normalise_key(public_key: str) -> str:
    """``"<type> <base64>"`` from an OpenSSH public key line, dropping any comment; the blob
    must decode and name the same key type, so a garbled key fails here rather than in ssh."""
    parts = public_key.strip().split()
    if len(parts) < 2 or not _KEYTYPE_RE.match(parts[0]):
        raise KnownHostsError(
            "a host key must be an OpenSSH public key line ('<type> <base64> [comment]')"
        )
    keytype, b64 = parts[0], parts[1]
    try:
        blob = base64.b64decode(b64, validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        embedded = blob[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError):
        raise KnownHostsError(f"the {keytype} host key is not valid base64 key data") from None
    if embedded != keytype:
        raise KnownHostsError(f"the host key says {keytype} but its data is {embedded!r}")
    return f"{keytype} {b64}"


def _entry_hosts(line: str) -> list[str]:
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return []
    hosts = fields[1] if fields[0].startswith("@") and len(fields) > 1 else fields[0]
    return [h.lower() for h in hosts.split(",")]


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    """The file as it is now (device, inode, size, mtime): an atomic rewrite (ours) changes
    the inode, an edit in place the size or mtime; None when it cannot be looked at."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _normalised(public_keys: Iterable[str]) -> tuple[str, ...]:
    """The keys as the file holds them (``type base64``), each once, in the order given."""
    return tuple(dict.fromkeys(_normalise_key(k) for k in public_keys))


class KeyMemo:
    """Which keys a known_hosts file held for which names when this process last set them,
    with the file's identity then. The daemon sets a space's key before every connection,
    beside the connection's StartSession; when the file has not changed since it last did,
    one ``stat`` answers instead of the directory lock, a read and a worker thread that
    competes with StartSession's for the interpreter (efficiency.md, "Cold: this round").
    Any change to the file, by us or another program, makes it read and set again."""

    def __init__(self) -> None:
        self._held: dict[tuple[Path, str], tuple[tuple[str, ...], tuple[int, int, int, int]]] = {}

    def holds(self, path: Path, name: str, keys: tuple[str, ...]) -> bool:
        held = self._held.get((path, name))
        return held is not None and held[0] == keys and held[1] == _identity(path)

    def note(self, path: Path, name: str, keys: tuple[str, ...]) -> None:
        """Called with the file's lock held, right after it was found or made to hold them."""
        identity = _identity(path)
        if identity is None:
            self._held.pop((path, name), None)
        else:
            self._held[(path, name)] = (keys, identity)


class KnownHosts:
    """Read and replace host keys by alias in one known_hosts file; with a ``memo``, setting
    the keys it last set, in a file unchanged since, reads nothing (``KeyMemo``)."""

    def __init__(self, path: Path, memo: KeyMemo | None = None) -> None:
        self.path = path
        self._memo = memo

    @classmethod
    def for_paths(cls, paths: SshPaths) -> KnownHosts:
        return cls(paths.known_hosts)

    def get(self, alias: str) -> tuple[str, ...]:
        """The keys (``"<type> <base64>"``) recorded for ``alias``; empty if none."""
        name = self._name(alias)
        keys = []
        for line in self._lines(self._read()):
            if name in _entry_hosts(line) and not line.startswith("@"):
                keys.append(" ".join(line.split()[1:3]))
        return tuple(keys)

    def hosts(self) -> tuple[str, ...]:
        """Every host name with an entry, in file order."""
        seen: dict[str, None] = {}
        for line in self._lines(self._read()):
            for host in _entry_hosts(line):
                seen.setdefault(host)
        return tuple(seen)

    def set_host_key(self, alias: str, public_key: str) -> bool:
        """Make ``public_key`` the only key trusted for ``alias``; return whether that changed
        the file."""
        return self.set_host_keys(alias, [public_key])

    def set_host_keys(self, alias: str, public_keys: Iterable[str]) -> bool:
        """Like ``set_host_key`` for a host that offers several key types."""
        name = self._name(alias)
        keys = _normalised(public_keys)
        if not keys:
            raise KnownHostsError(f"no host key given for {alias}; use remove_host to forget it")
        if self._memo is not None and self._memo.holds(self.path, name, keys):
            return False
        return self._rewrite(name, [f"{name} {k}\n" for k in keys], keys)

    def holds(self, alias: str, public_keys: Iterable[str]) -> bool:
        """Whether the memo knows the file holds exactly these keys for ``alias`` (one
        ``stat``, no read: cheap enough for an event loop); False without a memo."""
        if self._memo is None:
            return False
        return self._memo.holds(self.path, self._name(alias), _normalised(public_keys))

    def remove_host(self, alias: str) -> bool:
        """Forget every key for ``alias``; return whether there was one."""
        return self._rewrite(self._name(alias), [])

    # -- internals ---------------------------------------------------------------------------

    def _name(self, alias: str) -> str:
        if not _ALIAS_RE.match(alias):
            raise KnownHostsError(f"{alias!r} is not an smconnect host name")
        return host_key_alias(alias)

    def _read(self) -> fsutil.Snapshot:
        try:
            return fsutil.read_snapshot(self.path)
        except OSError as exc:
            raise KnownHostsError(
                f"cannot read {self.path} ({exc.strerror or exc}); delete it and connect again"
            ) from None

    @staticmethod
    def _lines(snapshot: fsutil.Snapshot) -> list[str]:
        text = (snapshot.data or b"").decode("utf-8", "surrogateescape")
        return text.splitlines(keepends=True)

    def _rewrite(self, name: str, new_lines: list[str], keys: tuple[str, ...] = ()) -> bool:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with fsutil.directory_lock(self.path.parent):
            before = self._read()
            lines = self._lines(before)
            # The new entry takes the place of the old one, so setting the same key is a no-op.
            ours = [i for i, ln in enumerate(lines) if name in _entry_hosts(ln)]
            kept = [ln for i, ln in enumerate(lines) if i not in ours]
            at = ours[0] if ours else len(kept)
            if at and not kept[at - 1].endswith("\n"):
                kept[at - 1] += "\n"
            after = "".join(kept[:at] + new_lines + kept[at:])
            data = after.encode("utf-8", "surrogateescape")
            changed = data != (before.data or b"") and (before.exists or bool(new_lines))
            if changed:
                self._write(data, before)
            if self._memo is not None:
                self._memo.note(self.path, name, keys)
            return changed

    def _write(self, data: bytes, before: fsutil.Snapshot) -> None:
        try:
            fsutil.atomic_write(self.path, data, expected=before, mode=0o600)
        except fsutil.FileChangedError:
            raise KnownHostsError(
                f"{self.path} changed while smconnect was updating it; connect again"
            ) from None
        except OSError as exc:
            raise KnownHostsError(
                f"cannot write {self.path} ({exc.strerror or exc}); check the permissions "
                f"of {self.path.parent}"
            ) from None
