"""The channel pool against the emulator: real StartSession, real channels, the space's real
sshd. Host keys are learnt once per app run; shared channels close with their last holder."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

from bridge.aws.context import AwsContext
from bridge.daemon import pool as pool_module
from bridge.daemon.pool import ChannelKey, ChannelPool
from bridge.daemon.settings import DaemonSettings
from bridge.emulator import EmulatorThread
from bridge.emulator.agent.faults import FaultPlan
from bridge.ssm.core import CoreConfig
from bridge.ssm.options import ChannelOptions

from .daemon_helpers import running_space


def test_settings_are_read_once_from_the_given_environment() -> None:
    settings = DaemonSettings.from_env(
        {
            "SMCONNECT_POLL_INTERVAL": "0.2",
            "SMCONNECT_CHANNEL_RATE": "unlimited",
            "SMCONNECT_CREDENTIALS_RECHECK": "2.5",
            "SMCONNECT_RESUME_WINDOW": "not-a-number",
            "SMCONNECT_SIGN_IN_WARNING": "-1",
        }
    )
    assert settings.poll_interval == 0.2
    assert settings.channel_rate is None
    assert settings.credentials_recheck == 2.5
    assert settings.resume_window == 600.0  # malformed: the default
    assert settings.sign_in_warning == 600.0  # not positive: the default
    assert DaemonSettings.from_env({}).channel_rate == CoreConfig().rate_limit  # no drift
    assert DaemonSettings.from_env({"SMCONNECT_CHANNEL_RATE": "500"}).channel_rate == 500.0
    assert DaemonSettings.from_env({}).read_hold == ChannelOptions().read_hold  # no drift
    assert DaemonSettings.from_env({"SMCONNECT_READ_HOLD_MS": "12"}).read_hold == 0.012
    assert DaemonSettings.from_env({"SMCONNECT_READ_HOLD_MS": "0"}).read_hold == 0.0
    assert DaemonSettings.from_env({"SMCONNECT_READ_HOLD_MS": "x"}).read_hold == 0.100
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.poll_interval = 1.0  # type: ignore[misc]


async def test_pool_learns_the_host_key_once_and_closes_with_the_last_holder(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ws, space = await running_space(emulator, monkeypatch)
    events: list[tuple[str, dict[str, Any]]] = []

    async def broadcast(method: str, params: dict[str, Any]) -> int:
        events.append((method, params))
        return 0

    known_hosts = tmp_path / "known_hosts"
    pool = ChannelPool(
        DaemonSettings(channel_rate=None),
        broadcast=broadcast,
        known_hosts=known_hosts,
    )
    try:
        key = await pool.host_key(ws, space, "sm-editor")
        assert key.startswith("ssh-") and key in known_hosts.read_text()
        assert not pool.busy()  # the host-key channel is released at once
        managed, ssh = await pool.open_ssh(ws, space, purpose="forward", ssh_host="sm-editor")
        # One hostkey channel in all: the second learn (inside open_ssh) came from memory.
        assert managed.id == "forward-2"
        assert managed.key == ChannelKey(AwsContext().key, space.arn, "forward")
        assert pool.find(managed.key) == [managed]
        result = await ssh.run("echo from-$SAGEMAKER_SPACE_NAME", check=True)
        assert str(result.stdout).strip() == "from-editor"
        assert [m.describe()["state"] for m in pool.channels()] == ["connected"]

        assert pool.share(managed) is managed
        ssh.close()
        await pool.release(managed)
        assert pool.busy() and managed.alive  # still held once
        await pool.release(managed)
        assert not pool.busy() and not managed.alive
        assert pool.find(managed.key) == []
    finally:
        await pool.close()
        await ws.run(lambda studio: studio.stop_app(space))


async def test_a_channel_that_fails_for_good_has_its_session_terminated(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A held channel whose resume is refused is failed for good: no one will resume it, so
    the pool terminates its session at once rather than leave it counting against the
    space's session limit until its holder lets go."""
    ws, space = await running_space(emulator, monkeypatch)

    async def broadcast(method: str, params: dict[str, Any]) -> int:
        return 0

    pool = ChannelPool(
        DaemonSettings(channel_rate=None, resume_window=2.0),
        broadcast=broadcast,
        known_hosts=tmp_path / "known_hosts",
    )
    broker = emulator.emulator.broker
    plane = emulator.emulator.plane
    try:
        managed = await pool.open(ws, space, purpose="forward", ssh_host="sm-editor")
        assert plane.gateway.active(managed.session_id)
        stats = broker.sessions[managed.session_id].stats
        broker.faults.refuse_resume = True
        broker.faults.max_drops = stats.drops_injected + 1
        broker.faults.drop_every_bytes = 1
        _reader, writer = managed.channel.streams()
        writer.write(b"x")
        for _ in range(100):
            if not pool.busy():
                break
            await asyncio.sleep(0.1)
        assert managed.channel.error is not None
        assert not pool.busy()  # ended although still held once
        assert not plane.gateway.active(managed.session_id)
        await pool.release(managed)  # the holder's release is harmless now
    finally:
        broker.faults = FaultPlan()
        await pool.close()
        await ws.run(lambda studio: studio.stop_app(space))


async def test_the_sign_in_lookup_does_not_hold_up_the_new_channel(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """When the profile's sign-in ends is looked up (its SSO cache, a keyring: a worker
    thread) beside the channel's hand-over to its caller, not before it."""
    ws, space = await running_space(emulator, monkeypatch)
    assert ws.context.credentials is None  # a profile's (the environment's): it is looked up
    asked, answer, answered = threading.Event(), threading.Event(), threading.Event()

    def slow_deadline(profile: str | None) -> None:
        asked.set()
        answer.wait(60)
        answered.set()

    monkeypatch.setattr(pool_module, "sign_in_deadline", slow_deadline)

    async def broadcast(method: str, params: dict[str, Any]) -> int:
        return 0

    pool = ChannelPool(
        DaemonSettings(channel_rate=None), broadcast=broadcast, known_hosts=tmp_path / "kh"
    )
    try:
        managed = await pool.open(ws, space, purpose="forward", ssh_host="sm-editor")
        assert managed.alive and not answered.is_set()  # handed over while the lookup waits
        assert await asyncio.to_thread(asked.wait, 30)
    finally:
        answer.set()
        await pool.close()
        await ws.run(lambda studio: studio.stop_app(space))
