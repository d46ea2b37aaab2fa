"""The client's import graph stays small: the ProxyCommand relay imports it per ssh connection."""

from __future__ import annotations

import subprocess
import sys

import pytest

FORBIDDEN = ("boto3", "botocore", "typer", "rich", "asyncssh", "click", "platformdirs", "yaml")
DAEMON_ONLY = (
    "bridge.daemon.server",
    "bridge.daemon.dispatch",
    "bridge.daemon.lifecycle",
    "logging.handlers",
)


def imported_modules(statement: str) -> dict[str, int]:
    """Module name → cumulative import time (µs), from ``python -X importtime``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd="/",
    )
    modules = {}
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _self, cumulative, name = line.split(":", 1)[1].split("|")
            if cumulative.strip().isdigit():
                modules[name.strip()] = int(cumulative)
    return modules


def test_client_imports_nothing_heavy() -> None:
    modules = imported_modules("import bridge.daemon.client")
    assert "bridge.daemon.client" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN or m in DAEMON_ONLY)
    assert heavy == []


@pytest.mark.parametrize("module", ["bridge.redact", "bridge.paths"])
def test_relay_fast_path_modules_are_stdlib_only(module: str) -> None:
    """The relay's fast path (bridge.proxy + bridge.fastws) uses these without asyncio."""
    modules = imported_modules(f"import {module}")
    assert module in modules
    assert not [
        m
        for m in modules
        if m.startswith(("websockets", "asyncio")) or m.split(".")[0] in FORBIDDEN
    ]
