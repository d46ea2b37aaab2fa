"""Warm channels against the emulator: the second ssh channel to a space is the spare opened
after the first (no StartSession of its own), a spare ends after the idle time, at a stop and
with the switch off, and never takes the space's last free session."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bridge.daemon.pool import ChannelPool
from bridge.daemon.settings import DaemonSettings
from bridge.daemon.warm import SESSIONS_PER_SPACE
from bridge.emulator import EmulatorThread

from .daemon_helpers import running_space


async def _quiet(method: str, params: dict[str, Any]) -> int:
    return 0


def _started(emulator: EmulatorThread) -> int:
    return len(emulator.emulator.broker.sessions)  # every StartSession so far


def _warm(pool: ChannelPool) -> list[str]:
    return [m.id for m in pool.channels() if m.purpose == "warm" and m.alive]


async def _until(probe: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_second_ssh_takes_the_warm_channel_and_a_new_one_is_made(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ws, space = await running_space(emulator, monkeypatch)
    settings = DaemonSettings(channel_rate=None, warm_idle=1.5)
    pool = ChannelPool(settings, broadcast=_quiet, known_hosts=tmp_path / "kh")
    try:
        first = await pool.open(ws, space, purpose="ssh", ssh_host="sm-editor")
        await _until(lambda: len(_warm(pool)) == 1)
        assert pool.busy() and pool.find(first.key) == [first]
        spare_id = _warm(pool)[0]
        assert [m.describe()["purpose"] for m in pool.channels()].count("warm") == 1
        before = _started(emulator)
        second = await pool.open(ws, space, purpose="ssh", ssh_host="sm-editor")
        assert second.id == spare_id and second.purpose == "ssh" and second.alive
        reader, _ = second.channel.streams()
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"SSH-2.0-")
        assert _started(emulator) in (before, before + 1)  # at most the next spare's
        await _until(lambda: len(_warm(pool)) == 1)  # replaced in the background
        await pool.release(first)
        await pool.release(second)
        assert _warm(pool) and not pool.busy()  # a spare does not keep the daemon up
        # idle: no ssh for warm_idle seconds, and the spare is gone (its session terminated)
        await _until(lambda: not _warm(pool), timeout=5.0)
        # a closed spare stays listed until its TerminateSession returns; then nothing is left
        await _until(lambda: not pool.channels(), timeout=5.0)
    finally:
        await pool.close()
        await ws.run(lambda studio: studio.stop_app(space))


async def test_no_warm_channel_when_off_after_a_stop_or_at_the_limit(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ws, space = await running_space(emulator, monkeypatch)
    off = ChannelPool(
        DaemonSettings(channel_rate=None, warm_channels=False),
        broadcast=_quiet,
        known_hosts=tmp_path / "kh",
    )
    pool = ChannelPool(
        DaemonSettings(channel_rate=None), broadcast=_quiet, known_hosts=tmp_path / "kh"
    )
    try:
        held = await off.open(ws, space, purpose="ssh", ssh_host="sm-editor")
        await asyncio.sleep(0.3)
        assert _warm(off) == []
        await off.release(held)

        # nine of ours on the space: a spare would leave no free session, so none is made
        many = [
            await pool.open(ws, space, purpose="forward", ssh_host="sm-editor")
            for _ in range(SESSIONS_PER_SPACE - 2)
        ]
        ssh = await pool.open(ws, space, purpose="ssh", ssh_host="sm-editor")
        await asyncio.sleep(0.3)
        assert _warm(pool) == []
        for managed in many:
            await pool.release(managed)
        await pool.release(ssh)

        ssh = await pool.open(ws, space, purpose="ssh", ssh_host="sm-editor")
        await _until(lambda: len(_warm(pool)) == 1)
        await pool.release(ssh)
        await pool.warm.drop_space(space.arn)  # what space.stop does before stopping the app
        await _until(lambda: not _warm(pool))
    finally:
        await off.close()
        await pool.close()
        await ws.run(lambda studio: studio.stop_app(space))


def test_warm_settings_from_the_environment() -> None:
    assert DaemonSettings.from_env({}).warm_channels is True
    assert DaemonSettings.from_env({}).warm_idle == 600.0
    off = DaemonSettings.from_env(
        {"SMCONNECT_WARM_CHANNELS": "off", "SMCONNECT_WARM_IDLE_SECONDS": "30"}
    )
    assert (off.warm_channels, off.warm_idle) == (False, 30.0)
    assert DaemonSettings.from_env({"SMCONNECT_WARM_CHANNELS": "maybe"}).warm_channels is True
