"""Runs after the other credential tests (file order): no secret the suite handed out or typed
appears in any file smconnect wrote, except the two stores meant to hold them (the SSO cache
and the keyring backend's file). The daemon logs the failed refreshes with tracebacks, the CLI
logs crashes: those are the files that must stay clean."""

from __future__ import annotations

from pathlib import Path

from cred_helpers import LOG_ROOTS, SECRETS, Home
from test_keyring import SECRET

ALLOWED = (
    Path(".aws") / "sso" / "cache",  # the shared SSO token cache
    Path("data") / "python_keyring",  # keyrings.alt's file: the test's "OS keyring"
)


def _scanned(root: Path) -> list[Path]:
    files = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.is_file() and not any(relative.is_relative_to(a) for a in ALLOWED):
            files.append(path)
    return files


def test_no_secret_in_any_log(home: Home) -> None:
    # This test's own home: a failing credential_process, logged by the daemon.
    home.write_config(
        "[profile gone]\ncredential_process = smconnect credentials gone\nregion = us-east-1\n"
    )
    proc = home.smconnect("--profile", "gone", "list")
    assert proc.returncode == 4 and "smconnect configure --profile gone" in proc.stderr
    roots = [*LOG_ROOTS, home.root]
    secrets = {s for s in SECRETS | {SECRET} if len(s) >= 12}
    if LOG_ROOTS:  # run after the other tests: their tokens and keys are all in the set
        assert len(secrets) > 20
    logs = [p for root in roots for p in _scanned(root)]
    assert any(p.name == "daemon.log" for p in logs)
    leaks = []
    for path in logs:
        text = path.read_bytes().decode("utf-8", "replace")
        leaks += [f"{path}: {secret[:6]}..." for secret in secrets if secret in text]
    assert not leaks, leaks
