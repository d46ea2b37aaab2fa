"""No SSM session outlives a failed open: a session granted by StartSession whose websocket
cannot be opened at all is terminated (it would count against the space's session limit until
the service noticed), and so is one granted after the open's caller went away. Against the
emulator: its StreamUrl pointed at a closed port; a link with latency."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.daemon.pool import ChannelPool
from bridge.daemon.settings import DaemonSettings
from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import DelaysConfig, default_config
from bridge.ssm.errors import ChannelError

from .daemon_helpers import running_space


async def _quiet(method: str, params: dict[str, Any]) -> int:
    return 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_session_whose_websocket_cannot_open_is_terminated(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ws, space = await running_space(emulator, monkeypatch)
    broker = emulator.emulator.broker
    settings = DaemonSettings(channel_rate=None, warm_channels=False)
    pool = ChannelPool(settings, broadcast=_quiet, known_hosts=tmp_path / "kh")
    before = set(broker.sessions)
    saved, broker.public_port = broker.public_port, _closed_port()
    try:
        with pytest.raises(ChannelError, match="cannot open the data channel"):
            await pool.open(ws, space, purpose="ssh", ssh_host="sm-editor")
        granted = {i: s for i, s in broker.sessions.items() if i not in before}
        assert len(granted) == 1
        assert all(s.is_ending or s.ended.is_set() for s in granted.values())
    finally:
        broker.public_port = saved
        await pool.close()
        await ws.run(lambda studio: studio.stop_app(space))  # ends the app's sessions too


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_session_granted_after_its_caller_went_away_is_terminated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ssh killed while the pool's own StartSession is in flight: the call's worker thread
    cannot be stopped, so the session it grants must be ended when it comes (it would count
    against the space's limit until the service noticed). A 60 ms link holds the answer back
    long enough to cancel in between."""
    fast = DelaysConfig(app_start=0.1, app_stop=0.1, start_session_failure_window=0.0)
    config = dataclasses.replace(
        default_config(), pacing="unthrottled", delays=fast, latency_ms=60.0
    )
    with start_in_thread(config) as emulator:
        ws, space = await running_space(emulator, monkeypatch)
        broker = emulator.emulator.broker
        settings = DaemonSettings(channel_rate=None, warm_channels=False)
        pool = ChannelPool(settings, broadcast=_quiet, known_hosts=tmp_path / "kh")
        before = set(broker.sessions)
        opening = asyncio.ensure_future(pool.open(ws, space, purpose="ssh", ssh_host="sm-editor"))
        try:
            await _until(lambda: len(set(broker.sessions) - before) > 0)  # granted, not answered
            opening.cancel()
            with pytest.raises(asyncio.CancelledError):
                await opening
            granted = [s for i, s in broker.sessions.items() if i not in before]
            assert len(granted) == 1
            await _until(lambda: granted[0].is_ending or granted[0].ended.is_set())
        finally:
            await pool.close()
            await ws.run(lambda studio: studio.stop_app(space))
