"""Which OS user a space's sessions run as: ``sagemaker-user`` by default as root when it can
run the emulator's interpreter; the emulator's own user, with one warning, when it cannot
(forced here with the probe's test knob); ``SMCONNECT_EMULATOR_SPACE_USER`` overrides."""

from __future__ import annotations

import logging
import os

import pytest

from bridge.emulator.runtime.space import LOGIN_USER
from bridge.emulator.runtime.space_user import (
    CURRENT,
    PROBE_FAIL_ENV,
    USER_ENV,
    space_user_from_env,
    warned,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


def test_root_runs_sessions_as_sagemaker_user_unless_it_cannot_run_python(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Either ``sagemaker-user``, or (an interpreter under /root, mode 700, as on this box) the
    emulator's user with a warning naming the cause and the override."""
    monkeypatch.delenv(USER_ENV, raising=False)
    monkeypatch.delenv(PROBE_FAIL_ENV, raising=False)
    warned.discard(LOGIN_USER)
    with caplog.at_level(logging.WARNING):
        user = space_user_from_env(LOGIN_USER)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if user is not None:
        assert user.name == LOGIN_USER and warnings == []
    else:
        assert len(warnings) == 1 and USER_ENV in warnings[0] and LOGIN_USER in warnings[0]


def test_asking_for_the_user_skips_the_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_ENV, LOGIN_USER)
    monkeypatch.setenv(PROBE_FAIL_ENV, "1")
    user = space_user_from_env(LOGIN_USER)
    assert user is not None and user.name == LOGIN_USER


def test_an_unusable_interpreter_falls_back_to_the_current_user_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(USER_ENV, raising=False)
    monkeypatch.setenv(PROBE_FAIL_ENV, "1")
    warned.discard(LOGIN_USER)
    with caplog.at_level(logging.WARNING):
        assert space_user_from_env(LOGIN_USER) is None
        assert space_user_from_env(LOGIN_USER) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per process, not per app start
    assert USER_ENV in warnings[0] and PROBE_FAIL_ENV in warnings[0]


def test_current_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_ENV, CURRENT)
    monkeypatch.delenv(PROBE_FAIL_ENV, raising=False)
    assert space_user_from_env(LOGIN_USER) is None
