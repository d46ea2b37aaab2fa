"""Reading and carefully editing the shared AWS config file (``~/.aws/config``).

Every SDK and the AWS CLI read this file, and users edit it by hand, so a change here follows
the rules of ``bridge.fsutil``: only the keys we set change (comments, order, other
sections and unknown keys stay byte for byte), a backup is made before the first change, the
write is atomic and happens only if nobody changed the file since we read it, and smconnect
processes serialise on a directory lock.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bridge import fsutil
from bridge.aws.errors import ConfigurationError

_SECTION = re.compile(r"^\s*\[\s*(?P<name>[^\]]*?)\s*\]\s*(?:[#;].*)?$")
_KEY = re.compile(r"^(?P<key>[^\s=#;\[][^=]*?)\s*=\s*(?P<value>.*?)\s*$")
_BACKUP_STEM = ".smconnect-backup-"


def config_path() -> Path:
    """Where botocore reads the config file: ``AWS_CONFIG_FILE`` or ``~/.aws/config``."""
    return Path(os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"))


def credentials_path() -> Path:
    return Path(
        os.path.expanduser(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials")
    )


def profile_section(profile: str) -> str:
    return "default" if profile == "default" else f"profile {profile}"


def parse(text: str) -> dict[str, dict[str, str]]:
    """Sections and their top-level keys (nested sub-keys such as ``s3 =`` blocks are skipped).

    ``[default]`` and ``[profile default]`` are the same profile for botocore; this keeps the
    literal names, which is what an editor of the file needs.
    """
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        header = _SECTION.match(line)
        if header:
            current = sections.setdefault(header["name"], {})
            continue
        if current is None or line[:1].isspace():
            continue
        match = _KEY.match(line)
        if match:
            current[match["key"].strip()] = match["value"]
    return sections


def read_config(path: Path | None = None) -> dict[str, dict[str, str]]:
    path = path or config_path()
    try:
        snapshot = fsutil.read_snapshot(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path} ({exc.strerror or exc})") from None
    return parse((snapshot.data or b"").decode("utf-8", "replace"))


def profile_settings(profile: str, path: Path | None = None) -> dict[str, str]:
    sections = read_config(path)
    if profile == "default":
        return {**sections.get("profile default", {}), **sections.get("default", {})}
    return sections.get(profile_section(profile), {})


@dataclass(frozen=True)
class EditResult:
    changed: bool
    backup: Path | None  # the copy of the file from before the change, if one was needed


def update_section(
    section: str,
    values: Mapping[str, str],
    *,
    remove: Iterable[str] = (),
    path: Path | None = None,
) -> EditResult:
    """Set ``values`` and drop ``remove`` in ``[section]``, creating the section if needed."""
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with fsutil.directory_lock(path.parent):
        try:
            before = fsutil.read_snapshot(path)
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path} ({exc.strerror or exc})") from None
        text = (before.data or b"").decode("utf-8")
        after = edit_text(text, section, values, remove=set(remove))
        if after == text:
            return EditResult(changed=False, backup=None)
        backup = _backup(path, before.data) if before.exists else None
        try:
            fsutil.atomic_write(path, after.encode("utf-8"), expected=before)
        except fsutil.FileChangedError:
            raise ConfigurationError(
                f"{path} changed while smconnect was updating it; nothing was written: "
                "save your edits, then run the command again"
            ) from None
        except OSError as exc:
            raise ConfigurationError(f"cannot write {path} ({exc.strerror or exc})") from None
        return EditResult(changed=True, backup=backup)


def edit_text(
    text: str, section: str, values: Mapping[str, str], *, remove: set[str] | None = None
) -> str:
    """The file with one section's keys changed; everything else is kept as it was."""
    remove = (remove or set()) - set(values)
    lines = text.splitlines(keepends=True)
    start = _find_section(lines, section)
    pending = dict(values)
    if start is None:
        prefix = "" if not text or text.endswith("\n") else "\n"
        gap = "\n" if text.strip() else ""
        body = "".join(f"{k} = {v}\n" for k, v in pending.items())
        return f"{text}{prefix}{gap}[{section}]\n{body}"
    end = start + 1
    while end < len(lines) and not _SECTION.match(lines[end]):
        end += 1
    out = lines[: start + 1]
    last_key_line = start + 1
    skipping = False  # inside a removed/replaced key's indented continuation
    for i in range(start + 1, end):
        line = lines[i]
        if skipping and line[:1].isspace() and line.strip():
            continue
        skipping = False
        match = _KEY.match(line) if not line[:1].isspace() else None
        if match:
            key = match["key"].strip()
            if key in pending:
                out.append(f"{key} = {pending.pop(key)}\n")
                skipping = True
                last_key_line = len(out)
                continue
            if key in remove:
                skipping = True
                continue
        out.append(line)
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            last_key_line = len(out)
    if pending:
        if last_key_line > 0 and not out[last_key_line - 1].endswith("\n"):
            out[last_key_line - 1] += "\n"
        out[last_key_line:last_key_line] = [f"{k} = {v}\n" for k, v in pending.items()]
    out.extend(lines[end:])
    return "".join(out)


def _find_section(lines: list[str], section: str) -> int | None:
    for i, line in enumerate(lines):
        header = _SECTION.match(line)
        if header and header["name"] == section:
            return i
    return None


def _backup(path: Path, data: bytes | None) -> Path:
    """A copy from before our change, unless the newest copy already holds exactly this."""
    stem = path.name + _BACKUP_STEM
    pattern = re.sub(r"([*?\[])", r"[\1]", stem) + "*"
    existing = sorted(path.parent.glob(pattern))
    if existing and existing[-1].read_bytes() == (data or b""):
        return existing[-1]
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        candidate = path.parent / f"{stem}{stamp}-{n:03d}"
        if fsutil.create_exclusive(candidate, data or b"", mode=0o600):
            return candidate
    raise ConfigurationError(f"too many smconnect backups of {path}; delete some old ones")
