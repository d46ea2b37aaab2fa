"""What the e2e tests import: the sandbox they share (built by the ``stack`` fixture), and
``running_stack`` for a module that needs an emulator of its own configuration."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from bridge.emulator import start_in_thread
from bridge.emulator.config import DelaysConfig, EmulatorConfig
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

__all__ = ["FAST_DELAYS", "Stack", "running_stack"]

Stack = Sandbox  # what the e2e tests call the sandbox they share

FAST_DELAYS = DelaysConfig(
    app_start=0.3, app_stop=0.2, space_update=0.1, start_session_failure_window=0.3
)


def running_stack(
    config: EmulatorConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """An emulator with ``config`` and a sandbox on it; the daemon is stopped at the end."""
    with start_in_thread(config) as emulator:
        stack = Sandbox.create(
            tmp_path_factory.mktemp("home"),
            emulator.env,
            extra=FAST_DAEMON,
            emulator=emulator,
        )
        try:
            yield stack
        finally:
            stack.stop_daemon()


def session_ending(
    stack: Sandbox, interrupt: Callable[[], object], host: str = "sm-demo"
) -> tuple[int, bytes]:
    """Start an ssh session in the space, ``interrupt`` it once it runs, and return ssh's exit
    status and stderr. It runs on the relay path: with a passed descriptor no smconnect
    process is left to name the end (a known gap of fd passing; see docs/design/proxy.md)."""
    proc = subprocess.Popen(
        stack.ssh_argv("-o", "ProxyUseFdpass=no", host, "echo started; sleep 60"),
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"started\n"
        interrupt()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stderr
