"""Each failure raises the documented exception with the CLI's one-line message, no secret."""

from __future__ import annotations

import pytest

import smconnect
from bridge.testing.sandbox import Sandbox

from .api_helpers import EXPIRED_SECRET, EXPIRED_TOKEN


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


def test_an_unknown_space() -> None:
    with pytest.raises(smconnect.SpaceNotFound) as listed:
        smconnect.open_channel("no-such-space")
    assert "no space named 'no-such-space'" in _one_line(listed.value)
    with pytest.raises(smconnect.SpaceNotFound) as started:  # the daemon's own lookup
        smconnect.start("no-such-space")
    assert "no space named 'no-such-space'" in _one_line(started.value)
    assert started.value.kind == "space_not_found"


def test_disabled_remote_access() -> None:
    with pytest.raises(smconnect.RemoteAccessDisabled) as caught:
        smconnect.paramiko_client("locked")
    message = _one_line(caught.value)
    assert "remote access is disabled for space 'locked'" in message
    assert "smconnect open locked" in message
    assert not isinstance(caught.value, smconnect.SpaceNotFound)
    assert isinstance(caught.value, smconnect.SmconnectError)


def test_a_stopped_space_is_not_started_when_told_not_to() -> None:
    smconnect.stop("editor")
    with pytest.raises(smconnect.SpaceNotRunning) as caught:
        smconnect.open_channel("editor", start=False)
    assert "smconnect start editor" in _one_line(caught.value)


def test_expired_credentials_say_how_to_sign_in_and_leak_nothing(sandbox: Sandbox) -> None:
    with pytest.raises(smconnect.CredentialsExpired) as caught:
        smconnect.spaces(profile="expired")
    message = _one_line(caught.value)
    assert caught.value.kind == "credentials"
    for secret in (EXPIRED_SECRET, EXPIRED_TOKEN):
        assert secret not in message
        assert secret not in repr(caught.value)
        for log in sandbox.state_dir.glob("*.log"):
            assert secret not in log.read_text(errors="replace")


def test_a_daemon_that_cannot_be_started(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path_factory.mktemp("shared-run")
    shared.chmod(0o777)  # another user could plant a socket here: the client refuses it
    monkeypatch.setenv("SMCONNECT_RUNTIME_DIR", str(shared))
    with pytest.raises(smconnect.DaemonUnavailable) as caught:
        smconnect.spaces()
    message = _one_line(caught.value)
    assert "accessible to other users" in message
    assert "smconnect daemon logs" in message
