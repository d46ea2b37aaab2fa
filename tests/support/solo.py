"""Tests that must not share the machine (``@pytest.mark.solo``) in a parallel run.

``scripts/test`` runs the suite in several pytest-xdist workers at once. A test whose assertion
holds only on an idle machine (no retransmission at a fast pacing, a deadline measured in
milliseconds) would then fail whenever its neighbours load the two cores. In a parallel run each
test holds a shared lock on a file of the run while it runs (setup to teardown); a solo test
holds it exclusively, so it starts once the tests running elsewhere end, and no test starts until
it ends. A second lock, the gate, lets a waiting solo test go first: with the first lock alone
the other workers' shared locks, taken one after another, could keep it waiting for ever.

Locks are ``flock`` locks on files the controller made: the kernel drops them when a worker dies,
so a crash cannot leave the others waiting.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

MARKER = "solo"
MARKER_HELP = f"{MARKER}: runs with no other test at the same time in a parallel run (an assertion that needs an idle machine)"


def make_folder() -> Path:
    """The run's lock files' folder (made by the controller, handed to every worker)."""
    return Path(tempfile.mkdtemp(prefix="smconnect-test-solo-"))


@contextlib.contextmanager
def turn(folder: Path, solo: bool) -> Iterator[None]:
    """Hold the run lock for one test: alone if ``solo``, else beside other non-solo tests."""
    gate = os.open(folder / "gate", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        run = os.open(folder / "run", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(gate, fcntl.LOCK_EX)
            fcntl.flock(run, fcntl.LOCK_EX if solo else fcntl.LOCK_SH)
            if not solo:  # a solo test keeps the gate: nobody starts until it ends
                fcntl.flock(gate, fcntl.LOCK_UN)
            yield
        finally:
            os.close(run)  # closing drops the locks
    finally:
        os.close(gate)
