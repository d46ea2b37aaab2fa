"""The daemon's rotating log file, redacted at the formatter.

Redaction happens on the fully formatted record (message, args, traceback, stack), on the
handler rather than a logger, so records propagated from any library (botocore, websockets,
asyncio) are covered too.

Each record starts with its time in RFC 3339 UTC (``2026-11-30T16:43:04.150Z``), the style of
every timestamp smconnect prints, which ``smconnect logs --since`` reads back. asyncssh logs
every channel open and close at INFO (most of the log, once); it is kept at WARNING unless
the daemon logs at DEBUG.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import types
from pathlib import Path

from bridge.redact import redact
from bridge.timestamps import rfc3339

_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return rfc3339(record.created)


def setup_logging(log_path: Path, level: str = "INFO") -> logging.Handler:
    """Send every record to ``log_path`` (0600, rotated) and route stray output into it too."""
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    os.close(fd)
    handler = logging.handlers.RotatingFileHandler(
        log_path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(RedactingFormatter(_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    logging.getLogger("websockets").setLevel(logging.WARNING)  # one line per connection otherwise
    chatty = root.level <= logging.DEBUG
    logging.getLogger("asyncssh").setLevel(logging.INFO if chatty else logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    return handler


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: types.TracebackType | None
) -> None:
    logging.getLogger("smconnect.daemon").critical(
        "uncaught exception", exc_info=(exc_type, exc, tb)
    )
