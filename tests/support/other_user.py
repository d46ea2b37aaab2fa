"""Another local user, made for the tests that check what a different uid can reach (the
daemon's sockets, ``fd.sock``, forwards). Issue 15 asks for a real, freshly created account
rather than a borrowed uid such as ``nobody`` (65534), whose files or processes a machine may
already have: ``useradd`` makes ``smconnect-probe-<random>`` with no home and no login shell,
``userdel`` removes it afterwards. Creating users needs root (CI runs as root); elsewhere the
tests that need one are skipped with that reason.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

__all__ = ["OtherUser", "throwaway_user"]

TOOLS = ("useradd", "userdel", "setpriv")


@dataclass(frozen=True)
class OtherUser:
    name: str
    uid: int
    gid: int

    def argv(self, *command: str) -> list[str]:
        """``command`` run as this user (its uid and gid only, no supplementary groups)."""
        return [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            *command,
        ]


@contextlib.contextmanager
def throwaway_user() -> Iterator[OtherUser]:
    """A new local user for the block; skips the test when this process cannot make one."""
    if os.getuid() != 0:
        pytest.skip("creating a throwaway local user needs root (CI runs as root)")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"creating a throwaway local user needs {', '.join(missing)}")
    name = f"smconnect-probe-{secrets.token_hex(4)}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
        check=True,
        capture_output=True,
        timeout=30,
    )
    try:
        entry = pwd.getpwnam(name)
        yield OtherUser(name, entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True, timeout=30)
