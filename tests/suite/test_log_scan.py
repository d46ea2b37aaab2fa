"""The session-end secret scan (``tests/support/log_scan.py``, run by ``tests/conftest.py``'s
``pytest_sessionfinish``): its patterns are live, the stores meant to hold secrets are spared,
and a find fails the whole run even when every test passed, proven on a planted case in a
pytest of its own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bridge.emulator.config import DEFAULT_SECRET_ACCESS_KEY
from tests.support import log_scan

from .suite_helpers import run_inner_pytest

PLANTED = """\
import os
from pathlib import Path

from tests.support import log_scan


def test_leaves_a_log(tmp_path: Path) -> None:
    plant = os.environ["PLANT"]
    log = tmp_path / "daemon.log"
    log.write_text("started\\n" + (plant if os.environ["KIND"] == "pattern" else "") + "\\n")
    if os.environ["KIND"] == "secret":
        (tmp_path / "cli.txt").write_text(f"error: {plant}\\n")
        log_scan.SECRETS.add(plant)
        log_scan.LOG_ROOTS.append(tmp_path)
"""


def test_the_patterns_find_what_they_look_for() -> None:
    planted = [
        DEFAULT_SECRET_ACCESS_KEY,
        '{"TokenValue": "abcdefghijklmnop"}',
        "ws://127.0.0.1:1/v1/data-channel/user-0123?role=publish_subscribe",
        "X-Amz-Security-Token: IQoJb3JpZ2luX2VjEXAMPLE",
    ]
    for line, (what, rx) in zip(planted, log_scan.LEAKS.items(), strict=True):
        assert rx.search(line), what
    safe = '{"TokenValue": "<redacted>"} ws://h/v1/data-channel/s-1?<redacted>'
    assert not any(rx.search(safe) for rx in log_scan.LEAKS.values())


def test_secrets_are_found_outside_the_stores_meant_for_them(tmp_path: Path) -> None:
    secret = "refresh-token-0123456789"
    cache = tmp_path / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    (cache / "abc.json").write_text(f'{{"refreshToken": "{secret}"}}')
    assert log_scan.secret_leaks([tmp_path], {secret, "short"}) == []
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "daemon.log").write_text(f"failed with {secret}\n")
    assert log_scan.secret_leaks([tmp_path], {secret}) == [
        f"{tmp_path / 'state' / 'daemon.log'}: refres..."
    ]


def _run_planted(
    tmp_path: Path, kind: str, plant: str, workers: str = "0"
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_planted.py").write_text(PLANTED)
    try:
        return run_inner_pytest(
            tmp_path,
            ["-n", workers, str(tmp_path / "test_planted.py")],
            {"KIND": kind, "PLANT": plant},
        )
    finally:  # the planted leak must not fail this session's own scan
        shutil.rmtree(tmp_path / "base", ignore_errors=True)


# "0": serial; "1": one pytest-xdist worker, where the test runs in another process than the
# one whose exit status counts.
@pytest.mark.parametrize("workers", ["0", "1"])
@pytest.mark.parametrize(
    ("kind", "plant", "named"),
    [
        ("pattern", DEFAULT_SECRET_ACCESS_KEY, "daemon.log: the emulator's secret key"),
        ("secret", "sso-access-token-0123456789", "cli.txt: sso-ac..."),
    ],
)
def test_a_leak_fails_the_run_with_a_clear_message(
    tmp_path: Path, kind: str, plant: str, named: str, workers: str
) -> None:
    proc = _run_planted(tmp_path, kind, plant, workers)
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout  # the test passed; the scan failed the run
    assert "SECRETS IN LOGS" in proc.stdout and named in proc.stdout, proc.stdout


@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_clean_run_passes(tmp_path: Path, workers: str) -> None:
    proc = _run_planted(tmp_path, "pattern", "nothing secret here", workers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SECRETS IN LOGS" not in proc.stdout
