"""Suite-wide hooks. At the end of the session, whatever ran, the logs the suite left are
searched for secrets (``support.log_scan``); a find fails the run with a message naming the
file, even when every test passed. In a parallel run (pytest-xdist) the controller does this
once, after every worker has sent it the secrets and homes its tests registered: a worker's own
exit status would not fail the run.

The suite's emulators run a space's processes as this process's own user
(``SMCONNECT_EMULATOR_SPACE_USER=current``), a test-speed and stability choice: no probe and no
user switch at each app start, and spaces rooted in pytest's 0700 temp folders stay reachable.
The default (``sagemaker-user`` as root) has its own tests, which lift this:
tests/e2e/test_space_user.py and tests/emulator/runtime/test_space_user.py. A run started with
``SMCONNECT_EMULATOR_SPACE_USER=`` (set, empty) keeps the default everywhere.

Logging is process-wide: after every test, whatever it changed (a logger's level, a handler on
the root) is put back, so one test's logging set-up cannot change how a later one runs, and the
test errors at teardown naming the change (``tests/support/logging_state.py``).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.emulator.runtime.space_user import CURRENT, USER_ENV
from tests.support import log_scan, solo
from tests.support.logging_state import Snapshot
from tests.support.other_user import OtherUser, throwaway_user

# What an xdist worker hands its controller for the session-end secret scan.
_SCAN_KEY = "smconnect_log_scan"
# What the controller hands each worker: the folder of the solo lock (``support.solo``).
_SOLO_KEY = "smconnect_solo"
LONG_HELP = (
    "long: a test of ~30 s or more; its file is started first in a parallel run, so that it "
    "does not run alone at the end while the other workers wait"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", solo.MARKER_HELP)
    config.addinivalue_line("markers", LONG_HELP)
    os.environ.setdefault(USER_ENV, CURRENT)
    # One cache directory for every daemon the suite starts (each has its own HOME and state):
    # the trimmed service models are built once per run, not once per sandbox (~0.5 s of CPU
    # each). tests/aws/test_models.py builds its own.
    cache = tempfile.mkdtemp(prefix="smconnect-test-cache-")
    os.environ["XDG_CACHE_HOME"] = cache
    config.add_cleanup(lambda: shutil.rmtree(cache, ignore_errors=True))
    # A run started in the background by a non-interactive shell (``cmd &``) ignores SIGINT,
    # and every child inherits that: the tests that interrupt a CLI or a remote shell's job
    # with SIGINT or ^C would time out. An ignored SIGINT is not inherited past exec once
    # this process handles it again.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, in the controller: every worker gets the same solo lock folder."""
    config: pytest.Config = node.config
    folder = config.stash.get(_solo_folder, None)
    if folder is None:
        folder = config.stash[_solo_folder] = solo.make_folder()
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    node.workerinput[_SOLO_KEY] = str(folder)


_solo_folder = pytest.StashKey[Path]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[object]:
    """In an xdist worker: each test, from setup to teardown, holds its turn of the solo lock."""
    folder = getattr(item.config, "workerinput", {}).get(_SOLO_KEY)
    if folder is None:  # a serial run: nothing runs beside any test
        return (yield)
    with solo.turn(Path(folder), item.get_closest_marker(solo.MARKER) is not None):
        return (yield)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files with a ``long`` test first, each file's tests in their order: a parallel run
    hands out files in collection order (``--dist loadfile --no-loadscope-reorder``), and a long
    file started last would keep one worker busy after the others are done."""
    long_files = {item.path for item in items if item.get_closest_marker("long") is not None}
    items.sort(key=lambda item: item.path not in long_files)  # stable: False sorts first


_worker_seconds = pytest.StashKey[dict[str, float]]()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """In an xdist controller: add up each worker's busy time (printed at the end)."""
    node = getattr(report, "node", None)
    if node is not None:
        config: pytest.Config = node.config
        busy = config.stash.setdefault(_worker_seconds, {})
        busy[node.gateway.id] = busy.get(node.gateway.id, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The parallel run's balance: the busiest worker decides the run's length."""
    busy = config.stash.get(_worker_seconds, {})
    if busy:
        each = ", ".join(f"{worker} {seconds:.0f} s" for worker, seconds in sorted(busy.items()))
        terminalreporter.write_line(f"time in tests per worker: {each}")


@pytest.fixture(scope="session")
def other_user() -> Iterator[OtherUser]:
    """A local user made for this run (``useradd``) and removed after it; skips without root."""
    with throwaway_user() as user:
        yield user


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Set up before any other fixture of the test, so torn down after them (``caplog``'s own
    restore included): what is still changed then is the test's leak. It is put back first,
    so later tests run as they would alone, then the leaking test errors, naming the change."""
    before = Snapshot.take()
    yield
    changes = before.restore()
    if changes:
        pytest.fail(
            "this test left logging changed (restored; undo it in the test or its fixture): "
            + "; ".join(changes),
            pytrace=False,
        )


def _base_temp(session: pytest.Session) -> Path | None:
    """pytest's base temp dir if this session made one (never creates it)."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = getattr(factory, "_basetemp", None)
    return Path(base) if base is not None else None


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist, in the controller: a worker is done; take what it registered for the scan
    (the controller scans once, over every worker's temp dir, which lie under its own)."""
    found = getattr(node, "workeroutput", {}).get(_SCAN_KEY)
    if found is not None:
        log_scan.SECRETS.update(found["secrets"])
        log_scan.LOG_ROOTS.extend(Path(root) for root in found["roots"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its controller scans (pytest_testnodedown)
        workeroutput[_SCAN_KEY] = {
            "secrets": sorted(log_scan.SECRETS),
            "roots": [str(root) for root in log_scan.LOG_ROOTS],
        }
        return
    leaks = log_scan.session_leaks(_base_temp(session))
    if not leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["SECRETS IN LOGS: the suite's logs hold secrets that must never be logged:"]
    lines += [f"  {leak}" for leak in leaks]
    if reporter is not None:
        reporter.write_sep("=", "secrets in logs", red=True, bold=True)
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("\n".join(lines))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
