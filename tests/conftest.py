"""Suite-wide hooks. At the end of the session, whatever ran, the logs the suite left are
searched for secrets (``support.log_scan``); a find fails the run with a message naming the
file, even when every test passed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import log_scan
from tests.support.other_user import OtherUser, throwaway_user


@pytest.fixture(scope="session")
def other_user() -> Iterator[OtherUser]:
    """A local user made for this run (``useradd``) and removed after it; skips without root."""
    with throwaway_user() as user:
        yield user


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
