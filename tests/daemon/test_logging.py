"""The daemon's log file: rotating, 0600, and no planted secret survives a session that logged it."""

from __future__ import annotations

import logging
import os
import secrets
import stat
import string
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.daemon.client import DaemonClient
from bridge.daemon.logsetup import RedactingFormatter, setup_logging
from bridge.daemon.server import DaemonServer
from bridge.paths import DaemonPaths
from tests.support.logging_state import Snapshot


@pytest.fixture
def daemon_log(daemon_paths: DaemonPaths) -> Iterator[logging.Handler]:
    """The daemon's logging, set up in this process and undone after the test: all of it (the
    root's level and handler, websockets' and asyncssh's levels), as found before the set-up.
    Reading the root's level after ``setup_logging`` left it at DEBUG for every later test."""
    before = Snapshot.take()
    handler = setup_logging(daemon_paths.log, "DEBUG")
    try:
        yield handler
    finally:
        before.restore()  # removes and closes the handler too
        logging.captureWarnings(False)
        sys.excepthook = sys.__excepthook__


async def test_planted_secrets_never_reach_the_log(
    daemon_log: logging.Handler, served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    secret_key = secrets.token_urlsafe(30)
    session_token = secrets.token_urlsafe(60)
    stream_token = secrets.token_urlsafe(24)
    bearer = secrets.token_urlsafe(32)
    access_key = "ASIA" + secrets.token_hex(8).upper()
    lines = [
        f"ResumeSession answered {{'TokenValue': '{stream_token}', 'SessionId': 's-1'}}",
        f'credentials {{"AccessKeyId": "{access_key}", "SecretAccessKey": "{secret_key}", '
        f'"SessionToken": "{session_token}"}}',
        f"dialing wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1?token={stream_token}",
        f"header Authorization: Bearer {bearer}",
        f"aws_secret_access_key = {secret_key}",
    ]
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        await c.call("test.log", {"lines": lines})
    daemon_log.flush()
    text = daemon_paths.log.read_text()
    for planted in (secret_key, session_token, stream_token, bearer, access_key):
        assert planted not in text
    assert text.count("<redacted>") >= 8
    assert "Traceback" in text and "RuntimeError" in text  # the traceback itself was logged
    assert "data-channel/s-1?<redacted>" in text
    assert stat.S_IMODE(os.stat(daemon_paths.log).st_mode) == 0o600


def test_handler_rotates(daemon_log: logging.Handler) -> None:
    assert isinstance(daemon_log, logging.handlers.RotatingFileHandler)
    assert daemon_log.maxBytes > 0 and daemon_log.backupCount > 0


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(string.ascii_letters + string.digits + "+/=_-", min_size=16, max_size=64),
    template=st.sampled_from(
        [
            "SessionToken=%s",
            "{'TokenValue': '%s'}",
            "wss://h/p?x=%s",
            "Bearer %s",
            '"SecretAccessKey": "%s"',
        ]
    ),
)
def test_formatter_redacts_args_and_tracebacks(secret: str, template: str) -> None:
    formatter = RedactingFormatter("%(message)s")
    try:
        raise ValueError(template % secret)
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "botocore", logging.ERROR, __file__, 1, template, (secret,), exc_info
    )
    out = formatter.format(record)
    assert "ValueError" in out
    assert secret not in out
