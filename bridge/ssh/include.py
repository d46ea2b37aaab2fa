"""The one thing smconnect adds to the user's ``~/.ssh/config``: a marked ``Include`` line, first.

An ``Include`` placed after a ``Host``/``Match`` line would only apply inside that block, and
ssh takes the first value it sees for each option, so being first also means a user's ``Host *``
defaults cannot break our hosts. Everything else in the user's file is kept byte for byte.

The file is handled as bytes (ssh does not care about its encoding, so neither do we: a Latin-1
comment must survive untouched). Pure functions from the old content to the new; the manager
(``bridge.ssh.config``) reads and writes the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bridge.ssh.paths import SshPaths
from bridge.ssh.render import encode_text, include_arg

MARKER = b"# Added by smconnect (keep this first; `smconnect ssh-config remove` takes it out):"
MARKER_CREATED = (
    b"# Added by smconnect, which created this file (`smconnect ssh-config remove` takes it out):"
)


def _split_lines(data: bytes) -> list[bytes]:
    """Lines as ssh reads them (split at LF only), each keeping its line ending."""
    if not data:
        return []
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _bare(line: bytes) -> bytes:
    return line.rstrip(b"\r\n")


def _keyword(line: bytes) -> bytes:
    stripped = line.strip()
    if not stripped or stripped.startswith(b"#"):
        return b""
    return re.split(rb"[\s=]", stripped, maxsplit=1)[0].lower()


@dataclass(frozen=True)
class _OurBlock:
    start: int  # line index of the marker
    include: bytes  # the Include line, without line ending
    created: bool
    first: bool  # no Host/Match line precedes it


def _find_blocks(lines: Sequence[bytes]) -> list[_OurBlock]:
    blocks: list[_OurBlock] = []
    scoped = False
    for i, line in enumerate(lines):
        bare = _bare(line)
        if (
            bare in (MARKER, MARKER_CREATED)
            and i + 1 < len(lines)
            and _keyword(lines[i + 1]) == b"include"
        ):
            blocks.append(_OurBlock(i, _bare(lines[i + 1]), bare == MARKER_CREATED, not scoped))
        if _keyword(line) in (b"host", b"match"):
            scoped = True
    return blocks


def _strip_blocks(lines: Sequence[bytes], blocks: Sequence[_OurBlock]) -> bytes:
    drop = {b.start for b in blocks} | {b.start + 1 for b in blocks}
    return b"".join(line for i, line in enumerate(lines) if i not in drop)


@dataclass(frozen=True)
class IncludeState:
    """Where our lines stand in the user's config."""

    present: bool
    first: bool  # present, and above every Host/Match line


def include_state(data: bytes | None) -> IncludeState:
    """Whether the user's config (``None``: no file) has our lines, and whether they are first."""
    blocks = _find_blocks(_split_lines(data or b""))
    return IncludeState(present=bool(blocks), first=bool(blocks) and blocks[0].first)


def include_line(paths: SshPaths) -> bytes:
    return encode_text(f"Include {include_arg(paths.our_config)}")


def with_include(data: bytes | None, paths: SshPaths) -> bytes:
    """The user's config with our Include first; returns ``data`` itself if already so."""
    wanted = include_line(paths)
    lines = _split_lines(data or b"")
    blocks = _find_blocks(lines)
    if len(blocks) == 1 and blocks[0].first and blocks[0].include == wanted:
        return data or b""
    created = data is None or any(b.created for b in blocks)
    rest = _strip_blocks(lines, blocks)
    eol = b"\r\n" if lines and lines[0].endswith(b"\r\n") else b"\n"
    marker = MARKER_CREATED if created else MARKER
    return marker + eol + wanted + eol + rest


def without_include(data: bytes) -> tuple[bytes, bool]:
    """The user's config without our lines, and whether the file should go (we created it)."""
    lines = _split_lines(data)
    blocks = _find_blocks(lines)
    rest = _strip_blocks(lines, blocks)
    return rest, (not rest and any(b.created for b in blocks))
