"""The keep-alive's settings and its per-space mode: what the environment and a caller may ask."""

from __future__ import annotations

import pytest

from bridge.daemon.keepalive import SetParams
from bridge.daemon.rpc import ApiError
from bridge.daemon.settings import DaemonSettings


def test_keep_alive_settings_from_the_environment() -> None:
    settings = DaemonSettings.from_env(
        {
            "SMCONNECT_KEEPALIVE": "Always",
            "SMCONNECT_KEEPALIVE_INTERVAL": "0.5",
            "SMCONNECT_KEEPALIVE_MIN_BYTES": "4096",
            "SMCONNECT_IDLE_WARNING": "5",
        }
    )
    assert settings.keep_alive == "always"
    assert settings.keepalive_interval == 0.5
    assert settings.keepalive_min_bytes == 4096
    assert settings.idle_warning == 5.0
    defaults = DaemonSettings.from_env({})
    assert (defaults.keep_alive, defaults.keepalive_interval) == ("activity", 60.0)
    assert (defaults.keepalive_min_bytes, defaults.idle_warning) == (1024, 10.0)


def test_a_bad_keep_alive_setting_keeps_the_default(caplog: pytest.LogCaptureFixture) -> None:
    settings = DaemonSettings.from_env(
        {"SMCONNECT_KEEPALIVE": "sometimes", "SMCONNECT_KEEPALIVE_INTERVAL": "-1"}
    )
    assert (settings.keep_alive, settings.keepalive_interval) == ("activity", 60.0)
    assert "SMCONNECT_KEEPALIVE" in caplog.text


def test_a_space_mode_is_one_of_the_modes_or_default() -> None:
    for mode in ("off", "activity", "always", "default", None):
        assert SetParams(space="demo", mode=mode).mode == mode
    with pytest.raises(ApiError) as info:
        SetParams(space="demo", mode="sometimes")
    assert info.value.kind == "invalid_params"
