"""Exit codes, and the one line a user sees instead of a traceback.

Every failure ends in ``smconnect: <message>`` on stderr and an exit code from ``ExitCode``;
``docs/cli.md`` documents the codes, so scripts may branch on them. The daemon's error
messages are already written for humans: they pass through unchanged, and their ``kind``
picks the exit code.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from enum import IntEnum

from bridge.redact import redact
from bridge.ssh.errors import InvalidAliasError, SshConfigError


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the operation failed (AWS, the app, the data channel, a declined restart)
    USAGE = 2  # bad command line (typer's own usage errors exit 2 as well)
    NOT_FOUND = 3  # no such space, or a name that matches several; no such forward
    AWS_SETUP = 4  # credentials missing/expired, no region, unknown profile
    DAEMON = 5  # the daemon cannot be reached or started, or is not running
    SSH = 6  # no OpenSSH client, or an ssh config smconnect cannot use
    # The credential failures a user fixes differently (docs/design/identity.md):
    CREDENTIALS_REJECTED = 7  # a wrong secret or an unknown access key
    EXPORTED_EXPIRED = 8  # credentials exported in the shell have expired: re-export them
    SIGN_IN_EXPIRED = 9  # a profile's SSO sign-in has ended: `smconnect login --profile P`
    PROFILE_NOT_FOUND = 10  # --profile / AWS_PROFILE names no profile in ~/.aws
    INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """A failure the CLI reports as one line; ``code`` is the process exit status."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


_KIND_CODES: dict[str, ExitCode] = {
    "space_not_found": ExitCode.NOT_FOUND,
    "ambiguous_space": ExitCode.NOT_FOUND,
    "not_found": ExitCode.NOT_FOUND,
    "credentials": ExitCode.AWS_SETUP,
    "configuration": ExitCode.AWS_SETUP,
    "credentials_rejected": ExitCode.CREDENTIALS_REJECTED,
    "exported_credentials_expired": ExitCode.EXPORTED_EXPIRED,
    "sign_in_expired": ExitCode.SIGN_IN_EXPIRED,
    "profile_not_found": ExitCode.PROFILE_NOT_FOUND,
    "invalid_params": ExitCode.USAGE,
    "invalid_instance_type": ExitCode.USAGE,  # unknown, or too little memory for remote access
    "ssh_config": ExitCode.SSH,
    "session_limit": ExitCode.FAILURE,  # the space's session limit: close some, or stop it
}


def as_cli_error(exc: BaseException) -> CliError | None:
    """The user-facing form of an error we expect; None for a bug."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, InvalidAliasError):  # a bad --prefix
        return CliError(str(exc), ExitCode.USAGE)
    if isinstance(exc, SshConfigError):
        return CliError(str(exc), ExitCode.SSH)
    # The daemon client (websockets, asyncio) is imported only by commands that talk to the
    # daemon; if it never was, ``exc`` cannot be one of its errors, and importing it here
    # would cost every other failure a quarter of a second.
    if "bridge.daemon.client" not in sys.modules:
        return None
    from bridge.daemon.client import CallTimeout, DaemonUnavailable, RpcError

    if isinstance(exc, RpcError):
        message = exc.message
        if exc.kind in ("internal", "method_not_found"):
            message += "; `smconnect daemon logs` has the details"
        return CliError(message, _KIND_CODES.get(exc.kind, ExitCode.FAILURE))
    if isinstance(exc, CallTimeout):
        return CliError(
            f"{exc}; the space may still be changing state: `smconnect list` shows where it is",
            ExitCode.FAILURE,
        )
    if isinstance(exc, DaemonUnavailable):
        return CliError(f"{exc} (`smconnect daemon logs` shows the daemon's log)", ExitCode.DAEMON)
    return None


def log_crash(exc: BaseException) -> str | None:
    """Append the traceback of an unexpected error to ``cli.log`` in the state dir (0600,
    redacted); returns the log's path, or None if it could not be written."""
    from bridge.paths import default_paths

    path = default_paths().state_dir / "cli.log"
    text = "".join(traceback.format_exception(exc))
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()}\n{redact(text)}\n")
    except OSError:
        return None
    return str(path)
