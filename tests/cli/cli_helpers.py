"""Running the real ``smconnect`` console script against a real emulator, in a private HOME.

Each test gets its own HOME, runtime and state directories, hence its own daemon (autostarted
by the first command, like for a user); the fixture stops it with ``smconnect daemon stop``.
"""

from __future__ import annotations

import json
import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from bridge.cli.daemon_cmd import STOP_WAIT
from bridge.emulator.config import DelaysConfig, DomainConfig, EmulatorConfig, SpaceConfig
from bridge.testing.sandbox import SMCONNECT, Sandbox

__all__ = [
    "DOMAIN",
    "FAST",
    "OTHER_DOMAIN",
    "SMCONNECT",
    "Cli",
    "Result",
    "cli_config",
    "fake_editor",
    "read_until",
]

DOMAIN = "d-emulator00001"
OTHER_DOMAIN = "d-emulator00002"
FAST = DelaysConfig(app_start=0.1, app_stop=0.1, space_update=0.1, start_session_failure_window=0.2)


def cli_config() -> EmulatorConfig:
    """The demo seed (demo, editor, locked), a running space without remote access (busy) and
    a space name found in two domains (twin). CodeEditor runtimes start in milliseconds."""
    return EmulatorConfig(
        delays=FAST,
        domains=(
            DomainConfig(
                DOMAIN,
                "smconnect-demo",
                ("default-user",),
                (
                    SpaceConfig("demo", app_type="JupyterLab"),
                    SpaceConfig("editor", app_type="CodeEditor"),
                    SpaceConfig("locked", app_type="JupyterLab", remote_access="DISABLED"),
                    SpaceConfig(
                        "busy", app_type="CodeEditor", remote_access="DISABLED", app_running=True
                    ),
                    SpaceConfig("twin", app_type="CodeEditor"),
                ),
            ),
            DomainConfig(
                OTHER_DOMAIN, "other", ("alice",), (SpaceConfig("twin", app_type="CodeEditor"),)
            ),
        ),
    )


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def ok(self) -> Result:
        assert self.returncode == 0, f"smconnect {' '.join(self.args)}: {self}"
        assert "Traceback" not in self.stderr
        return self

    def fails(self, code: int, *needles: str) -> str:
        """Assert a clean failure: this exit code, no traceback, and the last stderr line
        (the error) is one ``smconnect: ...`` line containing every needle; returns it."""
        assert self.returncode == code, f"smconnect {' '.join(self.args)}: {self}"
        assert "Traceback" not in self.stderr and "Traceback" not in self.stdout
        last = self.stderr.strip().splitlines()[-1]
        assert last.startswith("smconnect: "), self.stderr
        for needle in needles:
            assert needle in last, last
        return last

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


# What a CLI test inherits from this process: nothing that could reach AWS or change how the
# tools behave, only what a program needs to run.
_KEEP = frozenset({"PATH", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "XDG_CACHE_HOME"})


@dataclass
class Cli(Sandbox):
    """A ``Sandbox`` whose commands return a ``Result``; HOME, runtime and state directories
    are siblings under one root (see ``offline``)."""

    @classmethod
    def offline(cls, root: Path) -> Self:
        """A Cli with no AWS endpoint or credentials at all (the ``cli`` fixture adds the
        emulator's); no editor is launched and no EC2 metadata lookup is made."""
        return cls.create(
            root / "home",
            {"AWS_EC2_METADATA_DISABLED": "true"},  # no credential lookups on 169.254.169.254
            extra={
                "SMCONNECT_RUNTIME_DIR": str(root / "run"),
                "SMCONNECT_STATE_DIR": str(root / "state"),
                "SMCONNECT_POLL_INTERVAL": "0.1",
                "SMCONNECT_DAEMON_IDLE_TIMEOUT": "120",
                "SMCONNECT_EDITOR": "none",
            },
            inherit=_KEEP.__contains__,
        )

    def run(
        self, *args: str, timeout: float = 120.0, stdin_text: str | None = None, **env: str
    ) -> Result:
        proc = self.smconnect(*args, input=stdin_text, timeout=timeout, env=env)
        return Result(args, proc.returncode, proc.stdout, proc.stderr)

    @property
    def our_config(self) -> Path:
        return self.home / ".ssh" / "smconnect" / "config"

    def stop_daemon(self, wait: float = STOP_WAIT) -> bool:
        """``Sandbox.stop_daemon`` (``smconnect daemon stop`` has its own tests), and the test
        fails if the daemon had to be killed: it outlived ``daemon.shutdown`` by ``wait`` s."""
        gone = super().stop_daemon(wait)
        assert gone, f"the daemon outlived daemon.shutdown by {wait:.0f} s"
        return gone


def read_until(stream: Any, predicate: Callable[[str], bool], timeout: float) -> str:
    """Lines from a text pipe until one satisfies ``predicate``; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if not ready:
            continue
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if predicate(line):
            return line
    raise AssertionError(f"no matching line within {timeout}s; got {seen!r}")


def fake_editor(bin_dir: Path, name: str, extensions: tuple[str, ...] = ()) -> Path:
    """A stand-in for VS Code's CLI (not installable here): records its argv in ``<name>.log``
    and answers ``--list-extensions``."""
    log = bin_dir / f"{name}.log"
    script = bin_dir / name
    listing = "".join(f"{e}\\n" for e in extensions)
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--list-extensions" ]; then printf "{listing}"; exit 0; fi\n'
        f'printf "%s\\n" "$@" >> "{log}"\n'
    )
    script.chmod(0o755)
    return log
