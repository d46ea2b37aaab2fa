"""Finding and killing the process trees a runtime started.

Kernels escape the Jupyter server's process group (jupyter_client starts each one in a new
session), and shells put background jobs in their own groups, so killing one group is not
enough. We snapshot the descendants of the processes we started (``ps`` works on Linux and
macOS, no psutil needed) and signal each one and its group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def descendants(roots: set[int]) -> set[int]:
    """The live descendants of ``roots`` (not the roots themselves)."""
    if not roots:
        return set()
    try:
        out = subprocess.run(
            ["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            children.setdefault(int(parts[1]), []).append(int(parts[0]))
    found: set[int] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found and child not in roots:
                found.add(child)
                stack.append(child)
    return found


def kill_tree(pids: set[int], sig: int = signal.SIGKILL) -> None:
    """Signal each process and, where it leads one, its process group; ignore the gone."""
    own_group = os.getpgrp()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            pgid = os.getpgid(pid)
            if pgid == pid and pgid != own_group:
                os.killpg(pgid, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
