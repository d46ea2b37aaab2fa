"""``smconnect doctor --bundle FILE``: what a maintainer needs to help, with no secret in it.

A zip of plain-text files: versions, the doctor report, the tail of the daemon's and the CLI's
logs, and ``ssh -G`` of smconnect's hosts (what OpenSSH would actually do). Everything passes
through ``bridge.redact`` on the way in, and nothing is taken from ``~/.aws``, the keyring or
the environment, so the user can attach it to an issue as it is. Written 0600 and atomically:
a failed run leaves no half bundle under the name asked for.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import platform
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge import fsutil
from bridge.paths import default_paths
from bridge.redact import redact

if TYPE_CHECKING:
    from bridge.ssh.config import SshConfig

LOG_LINES = 2000
MAX_HOSTS = 20
PACKAGES = ("boto3", "botocore", "asyncssh", "websockets", "typer", "rich", "keyring")


def write_bundle(path: Path, checks: Sequence[Any], config: SshConfig) -> list[str]:
    """Write the bundle to ``path``; returns the names of the files in it."""
    members = {
        "versions.txt": _versions(),
        "doctor.json": json.dumps([asdict(c) for c in checks], indent=2) + "\n",
        "daemon.log": _tail(default_paths().log),
        "cli.log": _tail(default_paths().state_dir / "cli.log"),
        "ssh-G.txt": _ssh_g(config),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in members.items():
            bundle.writestr(name, redact(text))
    target = path.absolute()
    fsutil.atomic_write(target, buffer.getvalue(), expected=None, keep_metadata=False)
    return list(members)


def _versions() -> str:
    from bridge import __version__

    lines = [
        f"smconnect {__version__} ({sys.argv[0]})",
        f"python {sys.version.split()[0]} ({sys.executable})",
        f"platform {platform.platform()}",
    ]
    for package in PACKAGES:
        try:
            lines.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{package} not installed")
    lines.append(_run(["ssh", "-V"]).strip() or "ssh: not found")
    return "\n".join(lines) + "\n"


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as log:
            lines = log.read().splitlines()[-LOG_LINES:]
    except OSError as exc:
        return f"({path}: {exc.strerror or exc})\n"
    return "\n".join(line.decode("utf-8", "replace") for line in lines) + "\n"


def _ssh_g(config: SshConfig) -> str:
    """``ssh -G`` of each of our hosts, through the user's config as plain ssh reads it."""
    from bridge.ssh.render import hosts_in

    try:
        content = config.paths.our_config.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no smconnect ssh config: {exc.strerror or exc})\n"
    hosts = hosts_in(content, config.options.wildcard)[:MAX_HOSTS]
    parts = []
    for host in hosts:
        out = _run(["ssh", "-F", str(config.paths.user_config), "-G", host])
        parts.append(f"## ssh -G {host}\n{out}")
    return "\n".join(parts) or "(no hosts)\n"


def _run(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return ""
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=15, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({' '.join(argv)}: {exc})\n"
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")
