"""``bridge.aws.clock``: the offset file moves our clock only while the endpoint is the local
emulator; against AWS (or with a broken file) it is the real time."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from bridge.aws import clock
from bridge.aws.keyring_store import SessionCredentials


@pytest.fixture
def offset_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "emulator-clock"
    path.write_text("3600.0")
    monkeypatch.setenv(clock.OFFSET_FILE_ENV, str(path))
    return path


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4566", "http://localhost:1"])
def test_the_emulator_set_up_moves_the_clock(
    offset_file: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert clock.offset() == 3600.0
    ahead = (clock.now() - _dt.datetime.now(_dt.UTC)).total_seconds()
    assert 3599 < ahead < 3601
    # What the keyring holds is judged by that clock: 30 min left in real time is expired.
    session = SessionCredentials(
        "ASIA", "secret", "token", _dt.datetime.now(_dt.UTC) + _dt.timedelta(minutes=30)
    )
    assert session.remaining() < 0


@pytest.mark.parametrize("endpoint", [None, "https://sts.us-east-1.amazonaws.com"])
def test_against_aws_the_file_is_ignored(
    offset_file: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str | None
) -> None:
    if endpoint is None:
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert clock.offset() == 0.0


@pytest.mark.parametrize("content", ["", "soon", "-5"])
def test_a_missing_or_odd_file_means_real_time(
    offset_file: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    offset_file.write_text(content)
    assert clock.offset() == 0.0
    offset_file.unlink()
    assert clock.offset() == 0.0
