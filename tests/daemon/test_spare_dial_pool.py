"""The pool's spare TLS connection against the emulator serving TLS, as the service does: once a
channel has been dialled to the ``wss`` broker, the next cold channel's websocket rides a
connection opened (and TLS-handshaken) before it was asked for; with the switch off, none."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.daemon.pool import ChannelPool
from bridge.daemon.settings import DaemonSettings
from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import DelaysConfig, default_config
from bridge.ssm import tls
from bridge.ssm.predial import target_of

from .daemon_helpers import running_space


async def _quiet(method: str, params: dict[str, Any]) -> int:
    return 0


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[EmulatorThread]:
    fast = DelaysConfig(app_start=0.1, app_stop=0.1, start_session_failure_window=0.2)
    config = dataclasses.replace(default_config(), pacing="unthrottled", delays=fast, tls=True)
    with start_in_thread(config) as handle:
        yield handle


async def _until(probe: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("enabled", [True, False])
async def test_a_cold_channel_rides_the_spare_tls_connection(
    tls_emulator: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    enabled: bool,
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.ssm.spare_dial")
    ws, space = await running_space(tls_emulator, monkeypatch)
    monkeypatch.setattr(tls._Shared, "context", None)  # made again: trusting the emulator's CA
    settings = DaemonSettings(channel_rate=None, warm_channels=False, spare_dial=enabled)
    pool = ChannelPool(settings, broadcast=_quiet, known_hosts=tmp_path / "kh")
    spares = pool.spare_dials
    accepted = tls_emulator.emulator.broker.accepted
    try:
        # the first channel learns where StreamUrls point; the second is dialled there
        for _ in range(2):
            await pool.release(await pool.open(ws, space, purpose="ssh", ssh_host="sm-editor"))
        first_wss = accepted["wss"]
        url = pool._stream_urls[next(iter(pool._stream_urls))]
        target = target_of(url)
        assert target is not None and target.secure
        said = [r.getMessage() for r in caplog.records if r.name == "bridge.ssm.spare_dial"]
        if not enabled:
            await asyncio.sleep(0)
            assert spares.spare(target) is None and spares.dialled == 0 and not said
            return
        # the daemon's log says what it keeps open, once, naming the endpoint and nothing else
        assert said == [
            f"keeping a spare TLS connection to 127.0.0.1:{target.port} for 600 s after its "
            "last use (SMCONNECT_SPARE_DIAL=off: none)"
        ]
        await _until(lambda: spares.spare(target) is not None)
        assert list(spares._targets) == [target]  # a guessed host no StreamUrl named: no spare
        spare = spares.spare(target)
        assert spare is not None
        transport, _ = await spare._opening
        assert transport.get_extra_info("ssl_object") is not None  # handshaken ahead
        (shown,) = spares.describe()  # what sessions.status and `smconnect status` report
        assert shown["endpoint"] == f"127.0.0.1:{target.port}" and shown["state"] == "open"
        assert 0 <= shown["age_s"] < 60
        managed = await pool.open(ws, space, purpose="ssh", ssh_host="sm-editor")
        assert spares.taken == 1 and not spare.usable()  # handed to this channel's dial
        (shown,) = spares.describe()
        assert (shown["state"], shown["age_s"]) == ("none", None)  # the next one opens soon
        reader, _ = managed.channel.streams()
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"SSH-2.0-")
        assert accepted["wss"] == first_wss + 1
        await pool.release(managed)
    finally:
        await pool.close()
        await ws.run(lambda studio: studio.stop_app(space))


def test_the_switch_from_the_environment() -> None:
    assert DaemonSettings.from_env({}).spare_dial is True
    assert DaemonSettings.from_env({"SMCONNECT_SPARE_DIAL": "off"}).spare_dial is False
    assert DaemonSettings.from_env({"SMCONNECT_SPARE_DIAL": "maybe"}).spare_dial is True


def test_status_says_what_is_kept_open_escaped() -> None:
    from bridge.cli.status_cmd import spare_lines

    lines = spare_lines(
        [
            {"endpoint": "ssmmessages.eu-west-1.amazonaws.com:443", "state": "open", "age_s": 75},
            {"endpoint": "evil\x1b[2J:443", "state": "none", "age_s": None},
        ]
    )
    assert lines == [
        "spare TLS connection to ssmmessages.eu-west-1.amazonaws.com:443: open, 1m 15s old "
        "(SMCONNECT_SPARE_DIAL=off: none)",
        "spare TLS connection to evil\\x1b[2J:443: none (SMCONNECT_SPARE_DIAL=off: none)",
    ]
