"""The OS user a space's sessions run as: ``sagemaker-user``, as on AWS, when the emulator is root.

On AWS, ``whoami`` in a space says ``sagemaker-user`` and the home's files are that user's. The
emulator does the same by default when it runs as root and that user can run its interpreter
(probed once per app start): the user is created if missing (``useradd``, no fixed uid), the
space's home and TMPDIR are handed to it, and exec, shell and SFTP work as it. When the probe
fails, or when not root, everything runs as the emulator's own user (with one warning, as root).
``SMCONNECT_EMULATOR_SPACE_USER`` overrides: a user name, or ``current``. The Jupyter server stays
the emulator's: it runs from the emulator's interpreter, which may live where another user
cannot read (a venv under ``/root``). See docs/design/emulator-runtime.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CURRENT", "PROBE_FAIL_ENV", "USER_ENV", "SpaceUser", "space_user_from_env"]

USER_ENV = "SMCONNECT_EMULATOR_SPACE_USER"
CURRENT = "current"
PROBE_FAIL_ENV = "SMCONNECT_EMULATOR_PROBE_FAIL"

log = logging.getLogger(__name__)


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
    """The account the space's sessions run as, or None for the emulator's own user.

    ``SMCONNECT_EMULATOR_SPACE_USER`` decides when set (a user name, or ``current``); otherwise,
    as root, ``name`` (created if missing) when it can run the emulator's interpreter, else
    the emulator's user with one warning saying why. Never another user when not root.
    """
    asked = os.environ.get(USER_ENV, "")
    if os.geteuid() != 0 or asked == CURRENT:
        return None
    user = _account(asked or name)
    if asked:
        return user
    problem = _probe(user)
    if problem is None:
        return user
    _warn_once(user.name, problem)
    return None


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


def _probe(user: SpaceUser) -> str | None:
    """Why ``user`` cannot run the space's interpreter and packages, or None when it can.

    The space's sessions run ``python``/``jupyter`` from the emulator's environment; a venv
    under a folder that user cannot read (``/root``, mode 700) would leave it without them.
    ``SMCONNECT_EMULATOR_PROBE_FAIL=1`` forces a failure (the fallback path's tests).
    """
    if os.environ.get(PROBE_FAIL_ENV) == "1":
        return "forced by " + PROBE_FAIL_ENV
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import jupyter_server, ipykernel"],
            user=user.uid,
            group=user.gid,
            extra_groups=[],
            cwd="/",
            capture_output=True,
            timeout=60,
        )
    except OSError as exc:
        return f"cannot run {sys.executable}: {exc}"
    except subprocess.TimeoutExpired:
        return f"{sys.executable} did not answer within 60 s"
    if done.returncode == 0:
        return None
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"{sys.executable} exited with {done.returncode}"


warned: set[str] = set()  # users already warned about (once per process)


def _warn_once(name: str, problem: str) -> None:
    if name in warned:
        return
    warned.add(name)
    log.warning(
        "space sessions run as %s, not %r: %r cannot use this Python (%s); make the "
        "interpreter and its packages readable by that user (e.g. a checkout outside /root) "
        "or set %s=current to silence this",
        pwd.getpwuid(os.geteuid()).pw_name,
        name,
        name,
        problem,
        USER_ENV,
    )
