"""The interpreter a space's processes run when they run as another OS user (``sagemaker-user``).

A space needs one Python its user can run: ``python3`` for the transfer helper (stdlib only),
and ``jupyter_server`` with ``ipykernel`` for the Jupyter server, its kernels and CodeEditor's
on-demand Jupyter. The emulator's own interpreter often does not qualify: a venv's ``bin/python``
links to a base interpreter that may live under ``/root`` (mode 700; pyenv's, on the dev/CI box),
which another user cannot even reach. So the first of these that the user can run with both
packages is the space's Python (each tried once per process and user):

1. ``SMCONNECT_EMULATOR_SPACE_PYTHON``, when set;
2. the emulator's own interpreter;
3. ``/usr/bin/python3``;
4. ``/opt/smconnect/space-venv/bin/python`` (``SPACE_VENV``), which ``scripts/_space_venv.sh``
   builds from ``/usr/bin/python3`` with only what a space needs.

The probe runs the candidate as the user (uid, gid, no extra groups), from ``/``, with a bare
environment, as a session there would; ``setpriv`` is no substitute: it keeps its capabilities
until ``execve``, so the exec reaches ``/root`` while the loaded interpreter cannot.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PYTHON_ENV", "SPACE_VENV", "Choice", "candidates", "space_python"]

PYTHON_ENV = "SMCONNECT_EMULATOR_SPACE_PYTHON"
#: Built by scripts/_space_venv.sh (the same path is written there: keep them together).
SPACE_VENV = Path("/opt/smconnect/space-venv")
SYSTEM_PYTHON = "/usr/bin/python3"
_PROBE = "import jupyter_server, ipykernel"
_PROBE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class Choice:
    """The interpreter found (None: none qualified) and why each one tried before it failed."""

    python: str | None
    failures: tuple[str, ...]


def candidates() -> list[str]:
    """The interpreters to try, in order (the override first when set)."""
    asked = os.environ.get(PYTHON_ENV, "")
    found = [asked] if asked else []
    for python in (sys.executable, SYSTEM_PYTHON, os.fspath(SPACE_VENV / "bin" / "python")):
        if python not in found:
            found.append(python)
    return found


def space_python(uid: int, gid: int) -> Choice:
    """The first of ``candidates()`` that ``uid``/``gid`` can run with the space's packages."""
    return _choose(uid, gid, tuple(candidates()))


@functools.cache
def _choose(uid: int, gid: int, tried: tuple[str, ...]) -> Choice:
    failures: list[str] = []
    for python in tried:
        problem = _probe(python, uid, gid)
        if problem is None:
            return Choice(python, tuple(failures))
        failures.append(f"{python}: {problem}")
    return Choice(None, tuple(failures))


def _probe(python: str, uid: int, gid: int) -> str | None:
    """Why ``python`` cannot import the space's packages as ``uid``, or None when it can."""
    try:
        done = subprocess.run(
            [python, "-c", _PROBE],
            user=uid,
            group=gid,
            extra_groups=[],
            cwd="/",
            env=_PROBE_ENV,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
    except OSError as exc:
        return exc.strerror or str(exc)
    except subprocess.TimeoutExpired:
        return "did not answer within 60 s"
    if done.returncode == 0:
        return None
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exited with {done.returncode}"
