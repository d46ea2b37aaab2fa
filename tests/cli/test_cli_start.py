"""Every ``smconnect`` command pays for what building the typer app imports, before it does
anything (docs/design/efficiency.md, "CLI start"): the command modules keep AWS, the daemon
client, asyncio and rich out of their top-level imports, a run builds only the module of the
command it runs (``bridge.cli.lazy``), and parameter values convert without pydantic
(``bridge.cli.coercion``). These tests keep it that way, by what a fresh interpreter has
loaded, not by a timer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .cli_helpers import Cli

# Never needed to build the app or print help: AWS is the daemon's business, the daemon client
# (websockets on asyncio) is imported by the commands that call it, the transfer planner by cp.
NEVER_AT_START = ("boto3", "botocore", "websockets", "asyncio", "bridge.daemon", "bridge.transfer")
# Only where output is rendered: typer's help is rich text, a usage error one plain line.
RENDERING = ("rich",)
# typer's own parameter conversion; bridge.cli.coercion settles plain values without it.
CONVERSION = ("pydantic", "pydantic_core", "annotated_types")

_RUN = """
import json, sys
out, argv = sys.argv[1], sys.argv[2:]
if argv == ["<build>"]:
    import bridge.cli.app
else:
    sys.argv = ["smconnect", *argv]
    from bridge.__main__ import main
    try:
        main()
    except SystemExit:
        pass
with open(out, "w") as f:
    json.dump(sorted(sys.modules), f)
"""


def _loaded(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> list[str]:
    """The modules a fresh interpreter holds after ``smconnect ARGV`` (private HOME, unless
    ``env`` is a sandbox's)."""
    out = tmp_path / "modules.json"
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMCONNECT_"))}
        env.update(
            HOME=str(tmp_path),
            SMCONNECT_RUNTIME_DIR=str(tmp_path / "run"),
            SMCONNECT_STATE_DIR=str(tmp_path / "state"),
        )
    subprocess.run(
        [sys.executable, "-c", _RUN, str(out), *argv],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(out.read_text())
    return loaded


def _among(loaded: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in loaded if any(m == p or m.startswith(p + ".") for p in prefixes)]


def _built(loaded: list[str]) -> list[str]:
    """The command modules that were imported (each is built when one of its commands is)."""
    return [m for m in loaded if m.startswith("bridge.cli.") and m.endswith("_cmd")]


def test_building_the_app_imports_nothing_heavy(tmp_path: Path) -> None:
    assert _among(_loaded(tmp_path, "<build>"), NEVER_AT_START + RENDERING) == []


@pytest.mark.parametrize(
    "argv",
    [("--help",), ("cp", "--help"), ("status", "--help"), ("list", "--help")],
    ids=["help", "cp-help", "status-help", "list-help"],
)
def test_help_imports_no_aws_daemon_client_or_asyncio(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    loaded = _loaded(tmp_path, *argv)
    assert "bridge.cli.app" in loaded  # it did run the CLI
    assert _among(loaded, NEVER_AT_START) == []


def test_a_usage_error_imports_no_rich_either(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "no-such-command")
    assert "bridge.cli.app" in loaded
    assert _among(loaded, NEVER_AT_START + RENDERING) == []


def test_a_command_s_help_builds_only_its_module(tmp_path: Path) -> None:
    assert _built(_loaded(tmp_path, "cp", "--help")) == ["bridge.cli.transfer_cmd"]


def test_status_json_renders_nothing_and_leaves_aws_to_the_daemon(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "status", "--json")  # no daemon in this HOME: it says so
    assert "bridge.daemon.client" in loaded  # it did ask for one
    assert _among(loaded, ("boto3", "botocore", *RENDERING, *CONVERSION)) == []
    assert _built(loaded) == ["bridge.cli.status_cmd"]


def test_numbers_and_choices_convert_without_pydantic(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "logs", "--lines", "5", "--level", "warning")
    assert "bridge.cli.logs_cmd" in loaded
    assert _among(loaded, CONVERSION) == []
    assert _built(loaded) == ["bridge.cli.logs_cmd"]


def test_cp_without_a_terminal_draws_no_progress_bar(offline_cli: Cli, tmp_path: Path) -> None:
    """What `smconnect cp` pays before the copy (VS Code, scripts, tests: no terminal); the
    daemon refuses the copy at once here (no AWS), after the CLI did all of its part."""
    (tmp_path / "f").write_bytes(b"x")
    loaded = _loaded(tmp_path, "cp", str(tmp_path / "f"), "demo:f", env=offline_cli.env)
    assert "bridge.daemon.client" in loaded  # it did ask the daemon
    assert _among(loaded, ("boto3", "botocore", *RENDERING, *CONVERSION)) == []
    assert _among(loaded, ("bridge.transfer",)) == ["bridge.transfer", "bridge.transfer.limits"]
    assert _built(loaded) == ["bridge.cli.transfer_cmd"]
