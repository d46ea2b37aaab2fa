"""The no-secrets-in-logs check, run once at the end of the session by ``tests/conftest.py``
(``pytest_sessionfinish``) whatever subset of the suite ran, instead of by a test that had to
sort last.

Two scans:

* every log file under pytest's base temp dir (all the homes, state and runtime dirs the
  suite made) against ``LEAKS``: the emulator's secret key, unredacted tokens, StreamUrl query
  strings, session token headers;
* every file of the homes in ``LOG_ROOTS`` (the credential tests register theirs) against the
  exact strings in ``SECRETS`` (what the emulator issued and what the tests typed), except the
  two stores meant to hold them: the SSO cache and the keyring backend's file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from bridge.emulator.config import DEFAULT_SECRET_ACCESS_KEY

LOG_NAMES = re.compile(r"(\.log(\.\d+)?|daemon\.log.*)$")
LEAKS = {
    "the emulator's secret key": re.compile(re.escape(DEFAULT_SECRET_ACCESS_KEY)),
    "an unredacted TokenValue": re.compile(r'"TokenValue"\s*:\s*"(?!<redacted>)[^"]{8,}'),
    "a StreamUrl query": re.compile(r"/v1/data-channel/[\w-]+\?(?!<redacted>)\w"),
    "a session token header": re.compile(r"X-Amz-Security-Token[=:]\s*(?!<redacted>)\w{12,}"),
}
ALLOWED_STORES = (
    Path(".aws") / "sso" / "cache",  # the shared SSO token cache
    Path("data") / "python_keyring",  # keyrings.alt's file: the tests' "OS keyring"
)
MIN_SECRET = 12  # shorter strings (MFA codes, ids) would match by chance

# Filled while the session runs: every secret handed out or typed, and the homes to search.
SECRETS: set[str] = set()
LOG_ROOTS: list[Path] = []


def pattern_leaks(base: Path) -> list[str]:
    """ "file: what" for each log under ``base`` that matches one of ``LEAKS``."""
    found = []
    for path in sorted(base.rglob("*")):
        if path.is_file() and LOG_NAMES.search(path.name):
            text = path.read_bytes().decode("utf-8", "replace")
            found += [f"{path}: {what}" for what, rx in LEAKS.items() if rx.search(text)]
    return found


def secret_leaks(roots: Iterable[Path], secrets: Iterable[str]) -> list[str]:
    """ "file: first characters..." for each known secret found in a file of ``roots``
    outside the stores meant to hold it."""
    wanted = {s for s in secrets if len(s) >= MIN_SECRET}
    found = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or any(relative.is_relative_to(a) for a in ALLOWED_STORES):
                continue
            text = path.read_bytes().decode("utf-8", "replace")
            found += [f"{path}: {secret[:6]}..." for secret in wanted if secret in text]
    return found


def session_leaks(base: Path | None) -> list[str]:
    """Both scans over what this session left behind."""
    found = pattern_leaks(base) if base is not None and base.exists() else []
    return found + secret_leaks([r for r in LOG_ROOTS if r.exists()], SECRETS)
