"""``@pytest.mark.solo`` in a parallel run (``tests/support/solo.py``, held by
``tests/conftest.py``): a solo test runs while no other test runs, and the others still run
side by side. Proven on planted tests in a pytest of their own, with three workers."""

from __future__ import annotations

import itertools
from pathlib import Path

from .suite_helpers import run_inner_pytest

PLANTED = """\
import os
import time

import pytest


def _record(event: str) -> None:
    with open(os.environ["RECORD"], "a") as f:
        f.write(f"{time.monotonic()} {event} {os.environ['PYTEST_XDIST_WORKER']}\\n")


@pytest.mark.parametrize("n", range(2))
def test_plain(n: int) -> None:
    _record("start")
    time.sleep(1.0)
    _record("end")
"""
SOLO = """\
from test_plain_a import _record

import pytest
import time


@pytest.mark.solo
def test_solo() -> None:
    _record("start-solo")
    time.sleep(0.5)
    _record("end-solo")
"""


def test_a_solo_test_shares_the_run_with_no_other_test(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"test_plain_{name}.py").write_text(PLANTED)
    (tmp_path / "test_solo.py").write_text(SOLO)
    record = tmp_path / "record"
    proc = run_inner_pytest(
        tmp_path,
        ["-n", "3", "--dist", "loadfile", str(tmp_path)],
        {"RECORD": str(record)},
        import_paths=[tmp_path],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = sorted(
        (float(at), event, worker)
        for at, event, worker in (line.split() for line in record.read_text().splitlines())
    )
    names = [event for _at, event, _worker in events]
    assert names.count("start") == 4 and names.count("start-solo") == 1, events
    solo_at = names.index("start-solo")
    assert names[solo_at + 1] == "end-solo", events  # nothing started or ended in between
    assert names[:solo_at].count("start") == names[:solo_at].count("end"), events
    # the plain tests ran in more than one worker, some of them side by side
    assert len({worker for _at, event, worker in events if event == "start"}) >= 2, events
    assert any(a == b == "start" for a, b in itertools.pairwise(names)), events
