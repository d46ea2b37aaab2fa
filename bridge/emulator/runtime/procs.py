"""Finding and killing the process trees a runtime started.

Kernels escape the Jupyter server's process group (jupyter_client starts each one in a new
session), shells put background jobs in their own groups, and ``setsid cmd &`` leaves a process
that init adopts, so killing one group is not enough. Every process a runtime starts carries a
per-start tag in its environment, which its descendants inherit however they detach; on Linux we
find them by that tag in ``/proc``. Elsewhere we fall back to the descendants of the processes we
started (``ps`` works on Linux and macOS, no psutil needed).
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


def tagged(name: str, value: str) -> set[int]:
    """Processes whose environment holds ``name=value`` (Linux; empty where /proc is missing)."""
    needle = f"{name}={value}".encode()
    found: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    found.add(int(entry))
        except OSError:
            continue
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


def die_with_parent() -> None:
    """``preexec_fn``: on Linux, SIGTERM this child when the emulator process dies, even by
    SIGKILL, so a killed emulator leaves no Jupyter server behind. Elsewhere a no-op."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
