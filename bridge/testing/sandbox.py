"""A private world for running the real CLI, daemon and OpenSSH against an emulator.

Tests, benchmarks and the demo all need the same thing: a temporary HOME (smconnect writes
``~/.ssh`` there), a private daemon runtime/state directory, the emulator's AWS environment,
and ``ssh -F <home>/.ssh/config`` (OpenSSH takes ``~`` from the password database, not $HOME).
This is the one place that environment is built: the CLI tests' ``Cli`` and the credential
tests' ``Home`` derive from ``Sandbox`` and only add what their tests ask of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from bridge.emulator import EmulatorThread

__all__ = ["FAST_DAEMON", "SMCONNECT", "Sandbox", "not_ours"]

VENV_BIN = Path(sys.executable).parent
SMCONNECT = str(VENV_BIN / "smconnect")
FAST_DAEMON = {
    # For tests and benchmarks against an unthrottled emulator: poll app status often, and no
    # SSM pacing on the daemon's channels (the emulator enforces no ceiling in that mode).
    "SMCONNECT_POLL_INTERVAL": "0.2",
    "SMCONNECT_CHANNEL_RATE": "unlimited",
    "SMCONNECT_DAEMON_IDLE_TIMEOUT": "120",
    # One SSM session per ssh, as the session-accounting tests count them; the warm channels'
    # own tests and the latency bench turn them on.
    "SMCONNECT_WARM_CHANNELS": "off",
}


def not_ours(name: str) -> bool:
    """The default of what a sandbox inherits from this process: anything but AWS and smconnect
    settings, which would point its processes at a real account or at this user's daemon."""
    return not name.startswith(("AWS_", "SMCONNECT_"))


@dataclass
class Sandbox:
    home: Path
    env: dict[str, str]
    emulator: EmulatorThread | None = None  # the emulator ``aws_env`` came from, if any

    @property
    def emu(self) -> EmulatorThread:
        if self.emulator is None:
            raise RuntimeError("this sandbox was made without an emulator")
        return self.emulator

    @classmethod
    def create(
        cls,
        home: Path,
        aws_env: Mapping[str, str],
        *,
        extra: Mapping[str, str] | None = None,
        emulator: EmulatorThread | None = None,
        inherit: Callable[[str], bool] = not_ours,
    ) -> Self:
        """``extra`` is applied last, so it may move the runtime and state directories too;
        ``inherit`` picks the variables taken from this process's environment."""
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if inherit(k)}
        env.update(aws_env)
        env.update(
            HOME=str(home),
            # ssh in a sandbox always runs with -F <home>/.ssh/config: for doctor, that is the
            # config OpenSSH reads (a user's is the passwd entry's home, see doctor_local).
            SMCONNECT_OPENSSH_HOME=str(home),
            SMCONNECT_RUNTIME_DIR=str(home / ".smconnect-run"),
            SMCONNECT_STATE_DIR=str(home / ".smconnect-state"),
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        env.update(extra or {})
        return cls(home=home, env=env, emulator=emulator)

    @property
    def runtime_dir(self) -> Path:
        """Where the daemon keeps its socket and lock file."""
        return Path(self.env["SMCONNECT_RUNTIME_DIR"])

    @property
    def state_dir(self) -> Path:
        """Where the daemon writes its log (``daemon.log``) and the relay its ``proxy.log``."""
        return Path(self.env["SMCONNECT_STATE_DIR"])

    @property
    def ssh_config(self) -> Path:
        return self.home / ".ssh" / "config"

    def ssh_argv(self, *args: str) -> list[str]:
        return ["ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes", *args]

    def ssh(
        self, *args: str, timeout: float = 120, **kwargs: Any
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            self.ssh_argv(*args),
            env=self.env,
            capture_output=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )

    def smconnect(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 120,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """The console script, run to completion (see ``command``)."""
        return self.command(SMCONNECT, *args, input=input, timeout=timeout, env=env)

    def command(
        self,
        *argv: str,
        input: str | None = None,
        timeout: float = 120,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """A program run to completion in the sandbox; stdin is ``input`` or nothing (never the
        terminal: a test must not wait on a keyboard). ``env`` adds to the sandbox's."""
        return subprocess.run(
            argv,
            env={**self.env, **(env or {})},
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        """The console script left running, its output piped (text) for the test to read."""
        return subprocess.Popen(
            [SMCONNECT, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 120,
        autostart: bool = True,
    ) -> Any:
        """One daemon call from this process, as a client running in the sandbox would make it."""
        from bridge.daemon.client import DaemonClient

        async def run() -> Any:
            async with DaemonClient.connect(autostart=autostart) as client:
                return await client.call(method, params or {}, timeout=timeout)

        # Overlay, not replace: an in-process emulator reads this process's environment too
        # (a test may have set a knob for the space runtime).
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            return asyncio.run(run())
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def daemon_pid(self) -> int | None:
        """The pid in the lock file, if a daemon holds the lock."""
        lock = self.runtime_dir / "daemon.lock"
        try:
            fd = os.open(lock, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = lock.read_text().strip()
            return int(text) if text.isdigit() else None
        else:
            return None
        finally:
            os.close(fd)

    def stop_daemon(self, wait: float = 30.0) -> bool:
        """Stop this sandbox's daemon, if one runs: ``daemon.shutdown`` from this process (what
        ``smconnect daemon stop`` sends, without a CLI process's start-up), then wait up to
        ``wait`` seconds for it to be gone (it ends its sessions cleanly first), SIGKILL if it
        is still there. False only if it had to be killed."""
        from bridge.daemon.client import DaemonError

        if self.daemon_pid() is None:
            return True  # none was started (or it is gone already)
        with contextlib.suppress(DaemonError):  # gone meanwhile
            self.call("daemon.shutdown", timeout=10, autostart=False)
        deadline = time.monotonic() + wait
        while (pid := self.daemon_pid()) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid is None:
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return False
