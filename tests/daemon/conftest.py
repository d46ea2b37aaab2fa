from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bridge.daemon.dispatch import Api
from bridge.daemon.server import DaemonServer
from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import DelaysConfig, default_config
from bridge.paths import DaemonPaths, ensure_private_dir

from .daemon_helpers import install_test_methods, kill_daemons


@pytest.fixture
def daemon_paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[DaemonPaths]:
    """A private runtime/state dir per test; every daemon spawned for it is killed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="smd-"))  # short: unix socket paths max out at 107 bytes
    paths = DaemonPaths(runtime_dir=root / "run", state_dir=root / "state")
    monkeypatch.setenv("SMCONNECT_RUNTIME_DIR", str(paths.runtime_dir))
    monkeypatch.setenv("SMCONNECT_STATE_DIR", str(paths.state_dir))
    monkeypatch.setenv("SMCONNECT_DAEMON_IDLE_TIMEOUT", "30")
    monkeypatch.delenv("SMCONNECT_DAEMON_TRANSPORT", raising=False)
    try:
        yield paths
    finally:
        kill_daemons(paths.runtime_dir)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def served(daemon_paths: DaemonPaths) -> AsyncIterator[DaemonServer]:
    """An in-process daemon server on the unix socket, with the test methods installed."""
    api = Api()
    install_test_methods(api)
    server = DaemonServer(api)
    ensure_private_dir(daemon_paths.runtime_dir)
    await server.start_unix(daemon_paths.socket)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    """An unthrottled emulator with fast app transitions, shared by a module's pool tests."""
    fast = DelaysConfig(app_start=0.1, app_stop=0.1, start_session_failure_window=0.2)
    with start_in_thread(
        dataclasses.replace(default_config(), pacing="unthrottled", delays=fast)
    ) as handle:
        yield handle
