"""A ``credential_process`` that fails inside the daemon: the user gets the fix, and the daemon
logs the failure (with its traceback). That log is among the files the session-end scan
(``tests/support/log_scan.py``, run from ``tests/conftest.py``) searches for every secret the
credential tests handed out or typed."""

from __future__ import annotations

from .cred_helpers import Home


def test_a_failing_credential_process_is_logged_and_named(home: Home) -> None:
    home.write_config(
        "[profile gone]\ncredential_process = smconnect credentials gone\nregion = us-east-1\n"
    )
    proc = home.smconnect("--profile", "gone", "list")
    assert proc.returncode == 4 and "smconnect configure --profile gone" in proc.stderr
    assert any(home.root.rglob("daemon.log")), "the daemon left no log for the scan"
