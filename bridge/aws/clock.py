"""The wall clock the AWS layer judges expiry by (SSO tokens, keyring MFA/role sessions).

It is the real UTC time, except in one test set-up: when ``SMCONNECT_EMULATOR_CLOCK`` names a
file and ``AWS_ENDPOINT_URL`` points at a loopback address (the local emulator), the number of
seconds in that file is added. A test then moves the emulator's clock and this one together
("the session has ended") instead of sleeping until it ends, and it reaches the daemon and
``credential_process`` subprocesses too, which no in-process parameter could. Against AWS the
knob is ignored.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from urllib.parse import urlsplit

OFFSET_FILE_ENV = "SMCONNECT_EMULATOR_CLOCK"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def now() -> _dt.datetime:
    """The current UTC time, plus the emulator test offset where it applies."""
    return _dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=offset())


def offset() -> float:
    """Seconds the emulator test set-up moved the clock forward (0.0 everywhere else)."""
    path = os.environ.get(OFFSET_FILE_ENV)
    if not path or urlsplit(os.environ.get("AWS_ENDPOINT_URL", "")).hostname not in _LOOPBACK:
        return 0.0
    try:
        return max(0.0, float(Path(path).read_text().strip() or 0.0))
    except (OSError, ValueError):
        return 0.0
