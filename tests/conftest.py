"""Suite-wide hooks. At the end of the session, whatever ran, the logs the suite left are
searched for secrets (``support.log_scan``); a find fails the run with a message naming the
file, even when every test passed.

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

import pytest

from bridge.emulator.runtime.space_user import CURRENT, USER_ENV
from tests.support import log_scan
from tests.support.logging_state import Snapshot
from tests.support.other_user import OtherUser, throwaway_user


def pytest_configure(config: pytest.Config) -> None:
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
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
