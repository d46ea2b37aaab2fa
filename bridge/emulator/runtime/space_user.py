"""The OS user a space's sessions run as: ``sagemaker-user``, as on AWS, when the emulator is root.

On AWS, ``whoami`` in a space says ``sagemaker-user`` and the home's files are that user's. The
emulator does the same by default when it runs as root (decided at each app start): the user is
created if missing (``useradd``, no fixed uid), the space's home and TMPDIR are handed to it,
and exec, shell, SFTP, the Jupyter server and its kernels work as it, with a Python that user can
run (``space_python``). When it cannot work, that is when no such Python is found or the home
lies under a folder the user may not enter, everything runs as the emulator's own user, with one
warning naming the cause and the fix. Not root: always the emulator's own user.
``SMCONNECT_EMULATOR_SPACE_USER`` overrides: a user name (no checks, no fallback), or ``current``.
See docs/design/emulator-runtime.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pwd
import stat
import subprocess
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.emulator.runtime.space_python import PYTHON_ENV, SPACE_VENV, space_python

__all__ = [
    "CURRENT",
    "PROBE_FAIL_ENV",
    "USER_ENV",
    "SpaceUser",
    "blocked_folder",
    "space_user_from_env",
]

USER_ENV = "SMCONNECT_EMULATOR_SPACE_USER"
CURRENT = "current"
PROBE_FAIL_ENV = "SMCONNECT_EMULATOR_PROBE_FAIL"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpaceUser:
    name: str
    uid: int
    gid: int
    #: The interpreter the space's processes use as this user; None when none was found (only
    #: when the user was named explicitly): sessions then keep the emulator's, Jupyter its user.
    python: str | None = None

    @property
    def as_child(self) -> dict[str, Any]:
        """``subprocess`` arguments that start a child as this user, with no other groups."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

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


def space_user_from_env(
    name: str, *, home: Path | None = None, passable: Collection[Path] = ()
) -> SpaceUser | None:
    """The account the space's sessions run as, or None for the emulator's own user.

    ``SMCONNECT_EMULATOR_SPACE_USER`` decides when set (a user name, or ``current``); otherwise,
    as root, ``name`` (created if missing) when it has a Python it can run (``space_python``)
    and can reach ``home`` (the folders in ``passable`` are the caller's, which it opens for
    search), else the emulator's user with one warning saying why and what to do.
    """
    asked = os.environ.get(USER_ENV, "")
    if os.geteuid() != 0 or asked == CURRENT:
        return None
    user = _account(asked or name)
    python: str | None = None
    if os.environ.get(PROBE_FAIL_ENV) == "1":
        problem: str | None = f"forced by {PROBE_FAIL_ENV}=1"
    else:
        choice = space_python(user.uid, user.gid)
        python = choice.python
        problem = None if python else _no_python(user.name, choice.failures)
    if asked:
        return dataclasses.replace(user, python=python)
    if problem is None and home is not None:
        folder = blocked_folder(home, user.uid, user.gid, passable)
        if folder is not None:
            problem = (
                f"the space's home {home} lies under {folder} (mode "
                f"{stat.S_IMODE(folder.stat().st_mode):04o}), which {user.name!r} may not "
                "enter; give the emulator a root every user may pass through (TMPDIR)"
            )
    if problem is None:
        return dataclasses.replace(user, python=python)
    _warn_once(user.name, problem)
    return None


def blocked_folder(path: Path, uid: int, gid: int, passable: Collection[Path] = ()) -> Path | None:
    """The first folder above ``path`` that ``uid``/``gid`` (no other groups) may not search,
    leaving out ``passable``; None when the user can reach ``path``."""
    for folder in reversed(path.parents):
        if folder in passable:
            continue
        info = folder.stat()
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return folder
    return None


def _no_python(name: str, failures: tuple[str, ...]) -> str:
    return (
        f"no Python that {name!r} can run has jupyter_server and ipykernel ("
        + "; ".join(failures)
        + f"); build {SPACE_VENV} (scripts/_space_venv.sh) or set {PYTHON_ENV} to one"
    )


def _account(name: str) -> SpaceUser:
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


warned: set[str] = set()  # users already warned about (once per process)


def _warn_once(name: str, problem: str) -> None:
    if name in warned:
        return
    warned.add(name)
    log.warning(
        "space sessions run as %s, not %r: %s; or set %s=current to silence this",
        pwd.getpwuid(os.geteuid()).pw_name,
        name,
        problem,
        USER_ENV,
    )
