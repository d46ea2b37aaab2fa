"""The ProxyCommand relay: a small import graph, one-line errors, and its routing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bridge.__main__ import _proxy_argv
from tests.proxy.proxy_helpers import FDPASS_MODULES, NOT_ON_THE_FAST_PATH, imported

HEAVY = ("boto3", "botocore", "typer", "rich", "asyncssh", "asyncio", "websockets", "aiohttp")


def test_proxy_import_graph_is_small() -> None:
    code = "import sys, bridge.__main__, bridge.proxy; print(__import__('json').dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["proxy", "sm-demo"], ["sm-demo"]),
        (
            ["--profile", "p", "--region", "r", "proxy", "sm-x"],
            ["--profile", "p", "--region", "r", "sm-x"],
        ),
        (
            ["--endpoint-url", "http://e", "proxy", "--no-start", "h"],
            ["--endpoint-url", "http://e", "--no-start", "h"],
        ),
        (["list"], None),
        (["--profile", "p", "list"], None),
    ],
)
def test_proxy_routing(argv: list[str], expected: list[str] | None) -> None:
    assert _proxy_argv(argv) == expected


def test_bad_arguments_give_one_line_and_exit_2(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "proxy"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smconnect: proxy:")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # The wildcard host passes no identity: the shell's, as the CLI reads it.
        (["sm-new"], {"region": "eu-west-1", "endpoint_url": "http://env"}),
        # A host of our config passes its own: the shell's region or endpoint must not leak in.
        (["--profile", "a", "sm-demo"], {"region": None, "endpoint_url": None}),
        (
            ["--region", "us-east-1", "sm-demo"],
            {"region": "us-east-1", "endpoint_url": None},
        ),
    ],
)
def test_proxy_context_is_the_hosts_else_the_shells(
    argv: list[str], expected: dict[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.proxy import _parse, context_params

    monkeypatch.setenv("AWS_PROFILE", "envp")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://env")
    assert context_params(_parse(argv)) == expected


def test_the_ssh_config_runs_the_proxy_without_site() -> None:
    """The generated ProxyCommand: this interpreter, isolated and without ``site`` (no
    site-packages, no ``.pth`` files), on ``bridge/proxy_start.py``; it loads nothing but the
    standard library and the proxy's own modules, and still answers a bad call in one line."""
    from bridge.ssh.command import smconnect_command

    command = smconnect_command()
    assert command[:3] == (sys.executable, "-I", "-S")
    assert command[3].endswith("bridge/proxy_start.py")
    done = subprocess.run(  # the command as ssh runs it, with the import log on stderr
        [command[0], "-X", "importtime", *command[1:], "proxy"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    said = [line for line in lines if not line.startswith("import time:")]
    assert len(said) == 1 and said[0].startswith("smconnect: proxy:"), said
    loaded = imported(done.stderr)
    ours = {m for m in loaded if m.split(".")[0] not in sys.stdlib_module_names}
    assert ours <= FDPASS_MODULES, ours - FDPASS_MODULES
    assert not {"argparse", "dataclasses", *NOT_ON_THE_FAST_PATH} & loaded
