"""Helpers shared by the ssh-config tests: ask the real OpenSSH client, write user configs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bridge.ssh.aliases import SpaceRef

SPACES = [
    SpaceRef("demo", "d-aaaaaaaaaaaa"),
    SpaceRef("train", "d-aaaaaaaaaaaa"),
    SpaceRef("train", "d-bbbbbbbbbbbb"),
]


def ssh_g(config: Path, host: str) -> dict[str, str]:
    """``ssh -G`` as the user's config resolves ``host`` (first value per key)."""
    proc = subprocess.run(
        ["ssh", "-T", "-G", "-F", str(config), host],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        out.setdefault(key, value)
    return out


def write_user_config(paths_config: Path, data: bytes, mode: int = 0o600) -> None:
    paths_config.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths_config.write_bytes(data)
    os.chmod(paths_config, mode)
