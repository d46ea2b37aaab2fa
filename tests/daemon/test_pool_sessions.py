"""No SSM session outlives a failed open: a session granted by StartSession whose websocket
cannot be opened at all is terminated (it would count against the space's session limit until
the service noticed). Against the emulator, its StreamUrl pointed at a closed port."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from bridge.daemon.pool import ChannelPool
from bridge.daemon.settings import DaemonSettings
from bridge.emulator import EmulatorThread
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
