"""The OS user a space's sessions run as: ``sagemaker-user``, as on AWS, when asked for.

On AWS, ``whoami`` in a space says ``sagemaker-user`` and the home's files are that user's. The
emulator can do the same when it runs as root and ``SMCONNECT_EMULATOR_SPACE_USER`` is
``sagemaker-user``: the user is created if missing (``useradd``, no fixed uid), the space's
home and TMPDIR are handed to it, and exec, shell and SFTP work as it. Otherwise (the default,
and always when not root) everything runs as the emulator's own user. The Jupyter server stays
the emulator's: it runs from the emulator's interpreter, which may live where another user
cannot read (a venv under ``/root``). See docs/design/emulator-runtime.md.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["USER_ENV", "SpaceUser", "space_user_from_env"]

USER_ENV = "SMCONNECT_EMULATOR_SPACE_USER"


@dataclass(frozen=True)
class SpaceUser:
    name: str
    uid: int
    gid: int

    def hand_over(self, *trees: Path) -> None:
        """Make every file under ``trees`` this user's (symlinks themselves, never followed)."""
        for tree in trees:
            for top, dirs, files in os.walk(tree):
                for name in [*dirs, *files]:
                    os.chown(os.path.join(top, name), self.uid, self.gid, follow_symlinks=False)
            os.chown(tree, self.uid, self.gid)

    def own(self, path: str | bytes) -> None:
        """A file or folder the emulator made on this user's behalf (SFTP) becomes theirs."""
        with contextlib.suppress(OSError):
            os.chown(path, self.uid, self.gid, follow_symlinks=False)


def space_user_from_env(name: str) -> SpaceUser | None:
    """``name``'s account (created if missing) when asked for and running as root, else None."""
    if os.environ.get(USER_ENV) != name or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/bin/bash", "--user-group", name],
            check=True,
            capture_output=True,
            timeout=30,
        )
        entry = pwd.getpwnam(name)
    return SpaceUser(name, entry.pw_uid, entry.pw_gid)
