"""Where the user's ssh config and smconnect's own ssh files live.

A value, not a lookup: tests pass a temporary home, and nothing reads ``Path.home()`` unless
asked (``SshPaths.for_home()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SshPaths:
    """Where the user's ssh config and smconnect's own files live (injectable for tests)."""

    ssh_dir: Path
    user_config: Path
    smconnect_dir: Path

    @classmethod
    def for_home(cls, home: Path | None = None) -> SshPaths:
        return cls.in_ssh_dir((home if home is not None else Path.home()) / ".ssh")

    @classmethod
    def in_ssh_dir(cls, ssh_dir: Path, user_config: Path | None = None) -> SshPaths:
        ssh_dir = ssh_dir.absolute()
        return cls(
            ssh_dir=ssh_dir,
            user_config=(user_config or ssh_dir / "config").absolute(),
            smconnect_dir=ssh_dir / "smconnect",
        )

    @property
    def our_config(self) -> Path:
        return self.smconnect_dir / "config"

    @property
    def known_hosts(self) -> Path:
        return self.smconnect_dir / "known_hosts"
