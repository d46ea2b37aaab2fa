"""What the ProxyCommand tells the user, on both of its paths: one line on ssh's stderr (which
ssh shows on the terminal), a failure also appended to the proxy log, and the daemon's
notifications during a session in the daemon's words.

Shared by ``bridge.proxy`` (the entry point), ``bridge.proxy_fdpass`` (the descriptor hand-off)
and ``bridge.proxy_relay`` (the byte relay), so it is on the descriptor path: C modules and
``os`` only (docs/design/proxy.md, "Start-up budget"); ``bridge.redact`` is imported when there
is something from elsewhere to redact.
"""

from __future__ import annotations

import os
import sys
import time

from bridge.fastjson import loads

DAEMON_GONE = "the smconnect daemon went away mid-session (its log: `smconnect daemon logs`)"
PROXY_LOG = "proxy.log"  # in the state directory


class ProxyError(Exception):
    """One line for stderr."""


class Quietly:
    """``contextlib.suppress``: ``contextlib`` (with ``collections`` and ``functools``) is ~8 ms
    of CPU the descriptor path need not pay."""

    def __init__(self, *kinds: type[BaseException]) -> None:
        self._kinds = kinds

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, self._kinds)


def session_ended(reason: str | None) -> str:
    """How an abnormal end is told, whichever path saw it (a close frame, the hand-off line)."""
    return f"the session ended: {reason or 'no reason given'}"


def printable(text: str) -> str:
    """Nothing that came from elsewhere (a close reason, an AWS message) drives the terminal:
    control characters and escape sequences are shown escaped (``bridge.aws.validate.plain``,
    which the proxy cannot import cheaply)."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def say(message: str) -> None:
    sys.stderr.write(f"smconnect: {printable(message)}\n")
    sys.stderr.flush()


def redact(text: str) -> str:
    """``bridge.redact.redact``, imported when there is something to redact (it compiles its
    patterns with ``re`` at import: a cost the descriptor path need not pay)."""
    from bridge.redact import redact as redacted

    return redacted(text)


def notice_line(payload: bytes) -> str | None:
    """What a daemon notification during the session says on ssh's stderr, the same on both
    paths: a ``space.idle`` warning is one line, in the daemon's words; anything else is not
    ours to say (None)."""
    try:
        message = loads(payload)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    params = message.get("params")
    if message.get("method") == "space.idle" and isinstance(params, dict):
        text = params.get("message")
        if isinstance(text, str) and text:
            return redact(text)
    return None


def notice(payload: bytes) -> None:
    """Show a daemon notification, if it is one the user should see (``notice_line``)."""
    line = notice_line(payload)
    if line is not None:
        say(line)


def report(state_dir: str, host: str, message: str) -> None:
    """A failure of the connection to ``host``: one line on stderr, and in the proxy log."""
    say(message)
    _log_failure(state_dir, f"{host}: {message}")


def _log_failure(state_dir: str, message: str) -> None:
    """Append ``message`` to the proxy log (0600, in a 0700 state directory); best effort: a
    failure to log must not hide the failure itself, already on stderr."""
    with Quietly(OSError):
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        path = os.path.join(state_dir, PROXY_LOG)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as log:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()}: {message}\n")
