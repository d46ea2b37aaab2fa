"""One emulator and one autostarted daemon for the module, as a user's machine would have them.

The daemon is spawned by the first call, with a temp HOME / runtime / state directory, and shut
down at the end. Notebook traffic goes through the daemon's local Jupyter URL only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import DelaysConfig, default_config

VENV_BIN = Path(sys.executable).parent


@dataclasses.dataclass
class Stack:
    emulator: EmulatorThread
    home: Path
    env: dict[str, str]

    @property
    def context(self) -> dict[str, Any]:
        return {"endpoint_url": self.emulator.endpoint_url}

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 120) -> Any:
        """One daemon call from the test process, with the stack's environment (autostart)."""
        from bridge.daemon.client import DaemonClient

        async def run() -> Any:
            async with DaemonClient.connect(autostart=True) as client:
                return await client.call(method, params or {}, timeout=timeout)

        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            return asyncio.run(run())
        finally:
            os.environ.clear()
            os.environ.update(saved)

    async def acall(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(self.call, method, params)

    def smconnect(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "smconnect"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def space_home(self, space: str) -> Path:
        """The home directory of the space's current app run (a new one per start)."""
        runs = sorted(
            self.emulator.emulator.root.glob(f"*-{space}-*"), key=lambda p: p.stat().st_mtime
        )
        assert runs, f"space {space} has not run"
        return runs[-1] / "home" / "sagemaker-user"


def stack_env(home: Path, emulator: EmulatorThread) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMCONNECT_"))}
    env.update(emulator.env)
    env.update(
        HOME=str(home),
        SMCONNECT_RUNTIME_DIR=str(home / "run"),
        SMCONNECT_STATE_DIR=str(home / "state"),
        SMCONNECT_POLL_INTERVAL="0.2",
        SMCONNECT_CHANNEL_RATE="unlimited",
        SMCONNECT_DAEMON_IDLE_TIMEOUT="120",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = dataclasses.replace(
        default_config(),
        pacing="unthrottled",
        delays=DelaysConfig(
            app_start=0.2, app_stop=0.1, space_update=0.1, start_session_failure_window=0.2
        ),
    )
    home = tmp_path_factory.mktemp("home")
    with start_in_thread(config) as emulator:
        stack = Stack(emulator=emulator, home=home, env=stack_env(home, emulator))
        try:
            yield stack
        finally:
            try:
                stack.call("daemon.shutdown", timeout=10)
            except Exception as exc:  # a test may have stopped it already
                print(f"daemon shutdown: {exc}", file=sys.stderr)
