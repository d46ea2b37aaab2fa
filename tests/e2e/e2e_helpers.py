"""What the e2e tests import: the sandbox they share (built by the ``stack`` fixture), and
``running_stack`` for a module that needs an emulator of its own configuration."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest

from bridge.emulator import start_in_thread
from bridge.emulator.config import DelaysConfig, EmulatorConfig
from bridge.testing.sandbox import FAST_DAEMON, Sandbox
from tests.support.interrupted import run_interrupted

__all__ = ["BOTH_PATHS", "FAST_DELAYS", "Stack", "running_stack", "session_ending"]

Stack = Sandbox  # what the e2e tests call the sandbox they share

# ssh's two ways in: the passed descriptor (the generated config's default) and the relay.
BOTH_PATHS = pytest.mark.parametrize(
    "path", [[], ["-o", "ProxyUseFdpass=no"]], ids=["fdpass", "relay"]
)

FAST_DELAYS = DelaysConfig(
    app_start=0.3, app_stop=0.2, space_update=0.1, start_session_failure_window=0.3
)


def running_stack(
    config: EmulatorConfig,
    tmp_path_factory: pytest.TempPathFactory,
    extra: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """An emulator with ``config`` and a sandbox on it (``extra``: daemon settings over
    ``FAST_DAEMON``); the daemon is stopped at the end."""
    with start_in_thread(config) as emulator:
        stack = Sandbox.create(
            tmp_path_factory.mktemp("home"),
            emulator.env,
            extra={**FAST_DAEMON, **(extra or {})},
            emulator=emulator,
        )
        try:
            yield stack
        finally:
            stack.stop_daemon()


def session_ending(
    stack: Sandbox,
    interrupt: Callable[[], object],
    path: Sequence[str] = (),
    host: str = "sm-demo",
) -> tuple[int, bytes]:
    """Start an ssh session to ``host`` (``path``: ssh options choosing the way in, see
    ``BOTH_PATHS``), ``interrupt`` it once it runs, and return ssh's exit status and all of
    its stderr, including what a process the proxy left behind printed there."""

    def started(proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"started\n"

    argv = stack.ssh_argv(*path, host, "echo started; sleep 60")
    return run_interrupted(argv, stack.env, started, interrupt)
