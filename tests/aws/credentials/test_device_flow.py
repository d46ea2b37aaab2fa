"""The device authorization poll loop against the emulator, in process: authorization_pending,
then slow_down (the interval grows by 5 s, RFC 8628), then success once the user approves.
The loop's ``sleep`` moves the emulator's clock by the interval asked instead of waiting it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.aws import sso
from bridge.aws.errors import CredentialsError

from .cred_helpers import START_URL, Home


def _profile(home: Home, monkeypatch: pytest.MonkeyPatch) -> sso.SsoProfile:
    for key, value in home.env.items():
        monkeypatch.setenv(key, value)
    home.write_config(
        f"[profile dev]\nsso_session = corp\n\n[sso-session corp]\n"
        f"sso_start_url = {START_URL}\nsso_region = us-east-1\n"
    )
    settings = sso.sso_profile("dev")
    assert settings is not None and settings.session_name == "corp"
    return settings


def test_pending_then_slow_down_then_approved(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _profile(home, monkeypatch)
    asked: list[float] = []
    shown: list[sso.DeviceCode] = []

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        if len(asked) <= 2:
            return  # poll too early: the second poll earns a slow_down
        if len(asked) == 3:
            home.approve(shown[0].user_code)
        home.advance_clock(seconds)  # wait the interval asked, on the emulator's clock

    token = sso.SsoSignIn(settings, sleep=sleep).login(shown.append)
    assert asked[:3] == [1.0, 1.0, 1.0 + sso.SLOW_DOWN_STEP]
    assert shown[0].verification_uri_complete.endswith(shown[0].user_code)
    assert token["refreshToken"] and Path(settings.cache_file).exists()
    assert sso.load_token(settings) == token


def test_denied_request_fails_with_a_message(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _profile(home, monkeypatch)

    def deny(code: sso.DeviceCode) -> None:
        async def run() -> None:
            home.issuer.deny_device(code.user_code)

        home.emu.call(run)

    with pytest.raises(CredentialsError, match="denied"):
        sso.SsoSignIn(settings, sleep=lambda s: None).login(deny)


def test_refresh_without_a_working_refresh_token_returns_none(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _profile(home, monkeypatch)
    assert sso.SsoSignIn(settings).refresh() is None  # nothing cached
    sso.SsoSignIn(settings, sleep=home.advance_clock).login(
        lambda code: home.approve(code.user_code)
    )

    async def revoke() -> None:
        home.issuer.revoke_sso_sessions()

    home.emu.call(revoke)
    assert sso.SsoSignIn(settings).refresh() is None  # refused: only a login helps


def test_a_revoked_client_registration_is_replaced(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _profile(home, monkeypatch)
    first = sso.SsoSignIn(settings, sleep=home.advance_clock).login(
        lambda code: home.approve(code.user_code)
    )

    async def forget_clients() -> None:
        home.issuer.clients.clear()

    home.emu.call(forget_clients)
    second = sso.SsoSignIn(settings, sleep=home.advance_clock).login(
        lambda code: home.approve(code.user_code)
    )
    assert second["clientId"] != first["clientId"]
