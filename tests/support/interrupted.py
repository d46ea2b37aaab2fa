"""Run a real program, cut something under it once it is under way, and collect how it ended:
the shape of every "no silent endings" test (ssh sessions, ``smconnect cp``)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence

__all__ = ["run_interrupted"]


def run_interrupted(
    argv: Sequence[str],
    env: Mapping[str, str],
    ready: Callable[[subprocess.Popen[bytes]], object],
    interrupt: Callable[[], object],
    timeout: float = 60,
) -> tuple[int, bytes]:
    """Start ``argv``; once ``ready(proc)`` returns (it asserts that the work is under way),
    call ``interrupt`` and return the exit status and all of stderr (to EOF, so whatever a
    process left behind printed there is included)."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready(proc)
        interrupt()
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stderr
