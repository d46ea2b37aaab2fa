"""``scripts/bench transfer --quick --json`` runs end to end and reports every figure (the shape
only: the figures themselves depend on the machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "random_up_mb_s_1",
    "random_down_mb_s_1",
    "random_up_mb_s_2",
    "random_down_mb_s_2",
    "csv_up_mb_s_8",
    "csv_down_mb_s_8",
    "small_files_s_8",
    "one_file_s_8",
    "small_vs_one",
    "cpu_s_per_mib_up",
    "cpu_s_per_mib_down",
    "daemon_cpu_s_per_mib_up",
    "daemon_cpu_s_per_mib_down",
    "space_cpu_s_per_mib_up",
    "space_cpu_s_per_mib_down",
    "busy_daemon_up",
    "busy_daemon_down",
    "busy_space_up",
    "busy_space_down",
    "resume_skipped_fraction",
    "load_1m",
    "mib",
    "small_files",
}


@pytest.mark.long
def test_quick_bench_reports_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_transfer.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert set(figures) == FIGURES
    assert all(isinstance(v, int | float) and v >= 0 for v in figures.values())
    assert figures["random_up_mb_s_1"] > 0 and figures["csv_up_mb_s_8"] > 0
