"""Credentials that expire in the middle of a session, with the real daemon, the emulator and
lifetimes of seconds, ended by moving the clock (``Home.advance_clock``: the emulator's and
the daemon's at once) rather than by sleeping: the data channel keeps flowing, the next
StartSession and a forced resume renew the credentials by themselves, and when only a login
can help the daemon says so and the resume waits for it instead of losing the session."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bridge.daemon.client import DaemonClient, RpcError
from tests.support import wait_until_async

from .cred_helpers import CREDENTIALS_RECHECK, MFA_CODE, MFA_SERIAL, START_URL, Home

CONFIG = f"""\
[profile dev]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Dev
region = us-east-1

[sso-session corp]
sso_start_url = {START_URL}
sso_region = us-east-1
"""
LIFETIME = 3.0
MFA_LIFETIME = 300.0  # under SMCONNECT_SIGN_IN_WARNING (600 s): warned of at once


@pytest.fixture
async def daemon(home: Home, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DaemonClient]:
    for key in [k for k in os.environ if k.startswith(("AWS_", "SMCONNECT_"))]:
        monkeypatch.delenv(key)
    for key, value in home.env.items():
        monkeypatch.setenv(key, value)  # the autostarted daemon inherits this environment
    async with DaemonClient.connect(autostart=True, start_timeout=60) as client:
        yield client


async def _banner(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """Connect through the forward to the space's SSH server and read its version line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    line = await asyncio.wait_for(reader.readline(), 30)
    return reader, writer, line


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """Our version line out, the server's key exchange offer back: bytes both ways."""
    writer.write(b"SSH-2.0-smconnect_test\r\n")
    await writer.drain()
    return await asyncio.wait_for(reader.read(4096), 30)


async def _session(client: DaemonClient, forward_id: str) -> dict[str, Any]:
    status = await client.call("sessions.status", {})
    session: dict[str, Any] = next(s for s in status["sessions"] if s["id"] == forward_id)
    return session


async def test_expiry_mid_session(home: Home, daemon: DaemonClient) -> None:
    home.write_config(CONFIG)
    home.set_tokens(sso_access_token=LIFETIME, role_credentials=LIFETIME)
    code, err = await asyncio.to_thread(home.login, "--profile", "dev")
    assert code == 0, err

    notes: list[dict[str, Any]] = []
    daemon.subscribe(
        lambda method, params: notes.append(params) if method == "credentials" else None
    )
    context = {"profile": "dev", "region": "us-east-1", "endpoint_url": home.emu.endpoint_url}
    fwd = await daemon.call(
        "forward.open", {**context, "space": "ce", "remote_port": 22}, timeout=120
    )
    port = fwd["local_port"]
    reader, writer, line = await _banner(port)
    assert line.startswith(b"SSH-2.0-Go")

    # Every credential and token expires; the established channel needs none of them.
    await asyncio.to_thread(home.advance_clock, LIFETIME + 0.5)
    assert await _exchange(reader, writer)
    writer.close()
    assert (await _banner(port))[2].startswith(b"SSH-2.0-Go")

    # The next StartSession renews the SSO token from its refresh token, then the role
    # credentials, with no user action.
    refreshes = home.issuer.calls["CreateToken.refresh_token"]
    second = await daemon.call(
        "forward.open", {**context, "space": "ce", "remote_port": 22}, timeout=120
    )
    assert home.issuer.calls["CreateToken.refresh_token"] > refreshes
    await daemon.call("forward.close", {"id": second["id"]})

    # A forced resume, credentials expired again: ResumeSession renews them by itself.
    await asyncio.to_thread(home.advance_clock, LIFETIME + 0.5)
    faults = home.emu.emulator.broker.faults
    faults.max_drops, faults.drop_every_bytes = 1, 1
    assert (await _banner(port))[2].startswith(b"SSH-2.0-Go")
    session = await _session(daemon, fwd["id"])
    assert session["reconnects"] == 1 and session["state"] == "connected"
    assert notes == []

    # Now the user is signed out everywhere: only a login helps. The resume waits for it.
    async def sign_out() -> None:
        home.issuer.revoke_sso_sessions()

    home.emu.call(sign_out)
    await asyncio.to_thread(home.advance_clock, LIFETIME + 0.5)
    faults.max_drops = 2
    pending = asyncio.ensure_future(_banner(port))
    assert await wait_until_async(lambda: notes, 30)
    assert notes and notes[0]["state"] == "expired" and notes[0]["profile"] == "dev"
    assert "smconnect login --profile dev" in notes[0]["message"]
    assert (await _session(daemon, fwd["id"]))["state"] == "reconnecting"
    assert not pending.done()

    code, err = await asyncio.to_thread(home.login, "--profile", "dev")
    assert code == 0, err
    assert (await asyncio.wait_for(pending, 60))[2].startswith(b"SSH-2.0-Go")
    session = await _session(daemon, fwd["id"])
    assert session["reconnects"] == 2 and session["state"] == "connected"
    await wait_until_async(lambda: len(notes) > 1, 5)
    assert [n["state"] for n in notes] == ["expired", "valid"]
    await daemon.call("forward.close", {"id": fwd["id"]})


async def test_mfa_profile_reuses_its_session_then_asks_for_a_sign_in(
    home: Home, daemon: DaemonClient
) -> None:
    home.set_tokens(session_credentials=MFA_LIFETIME)
    keys = "AKIAEMULATOR00000001\nsmconnectEmulatorSecretAccessKey00000000\n"
    proc = await asyncio.to_thread(
        home.smconnect, "configure", "--profile", "mfa", "--mfa-serial", MFA_SERIAL, input=keys
    )
    assert proc.returncode == 0, proc.stderr
    proc = await asyncio.to_thread(
        home.smconnect, "login", "--profile", "mfa", input=f"{MFA_CODE}\n"
    )
    assert proc.returncode == 0 and proc.stderr.count("MFA code for") == 1, proc.stderr

    notes: list[dict[str, Any]] = []
    daemon.subscribe(
        lambda method, params: notes.append(params) if method == "credentials" else None
    )
    context = {"profile": "mfa", "region": "us-east-1", "endpoint_url": home.emu.endpoint_url}
    opened = [
        await daemon.call(
            "forward.open", {**context, "space": "ce", "remote_port": 22}, timeout=120
        )
        for _ in range(2)
    ]
    assert home.issuer.calls["GetSessionToken"] == 1  # both connections used the cached session
    for fwd in opened:
        assert (await _banner(fwd["local_port"]))[2].startswith(b"SSH-2.0-Go")

    # Warned ahead of the end of the MFA session (SMCONNECT_SIGN_IN_WARNING before it).
    assert await wait_until_async(lambda: notes, 20)
    assert notes[0]["state"] == "expiring" and notes[0]["profile"] == "mfa"
    assert "smconnect login --profile mfa" in notes[0]["message"]

    # Once it has ended, only the user can help: a clear error, no prompt anywhere.
    await asyncio.to_thread(home.advance_clock, MFA_LIFETIME + 0.5)
    with pytest.raises(RpcError) as failed:
        await daemon.call(
            "forward.open", {**context, "space": "ce", "remote_port": 22}, timeout=120
        )
    assert failed.value.kind == "credentials"
    assert "smconnect login --profile mfa" in failed.value.message
    assert home.issuer.calls["GetSessionToken"] == 1
    assert (await _banner(opened[1]["local_port"]))[2].startswith(b"SSH-2.0-Go")  # no matter

    # A drop now: the resume waits, and continues as soon as the user enters a new code (the
    # keyring changes no file; `smconnect login` nudges the daemon through its state dir).
    faults = home.emu.emulator.broker.faults
    faults.max_drops, faults.drop_every_bytes = 1, 1
    pending = asyncio.ensure_future(_banner(opened[0]["local_port"]))
    await wait_until_async(lambda: any(n["state"] == "expired" for n in notes), 30)
    expired = next(n for n in notes if n["state"] == "expired")
    assert expired["profile"] == "mfa" and "smconnect login --profile mfa" in expired["message"]
    assert not pending.done()
    proc = await asyncio.to_thread(
        home.smconnect, "login", "--profile", "mfa", input=f"{MFA_CODE}\n"
    )
    assert proc.returncode == 0, proc.stderr
    signed_in = asyncio.get_running_loop().time()
    assert (await asyncio.wait_for(pending, 60))[2].startswith(b"SSH-2.0-Go")
    # The sign-in itself woke the resume, not the periodic re-check.
    assert asyncio.get_running_loop().time() - signed_in < CREDENTIALS_RECHECK / 2
    assert home.issuer.calls["GetSessionToken"] == 2
    for fwd in opened:
        await daemon.call("forward.close", {"id": fwd["id"]})
