"""What the ProxyCommand loads on the descriptor path, run for real: OpenSSH starts it from the
generated config, it asks the sandbox daemon for the channel's descriptor, passes it to ssh and
exits. ``-X importtime`` (added to the generated command) lists every module it imported."""

from __future__ import annotations

import shlex
import subprocess
import sys

from bridge.ssh.command import smconnect_command
from bridge.testing.sandbox import Sandbox
from tests.proxy.proxy_helpers import FDPASS_MODULES, NOT_ON_THE_FAST_PATH, imported


def _interpreter_start() -> set[str]:
    """What the interpreter itself imports before any of ours (encodings, io, os, …)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-I", "-S", "-c", "pass"],
        capture_output=True,
        text=True,
        check=True,
    )
    return imported(done.stderr)


def test_the_descriptor_path_imports_only_what_it_needs(opened_stack: Sandbox) -> None:
    assert opened_stack.ssh("sm-demo", "true").returncode == 0  # the daemon and channel are up
    python, *rest = smconnect_command()
    command = shlex.join([python, "-X", "importtime", *rest, "proxy", "--fdpass"]) + " %n"
    done = opened_stack.ssh(
        "-o", f"ProxyCommand={command}", "-o", "ProxyUseFdpass=yes", "sm-demo", "echo via-fd"
    )  # fmt: skip
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert done.stdout == b"via-fd\n"
    loaded = imported(stderr)
    assert "bridge.proxy" in loaded
    extra = loaded - _interpreter_start() - FDPASS_MODULES
    assert extra == set(), f"the descriptor path imported {sorted(extra)}"
    assert not NOT_ON_THE_FAST_PATH & loaded


def test_the_relay_path_still_relays_with_its_own_imports(opened_stack: Sandbox) -> None:
    """``ProxyUseFdpass no``: the same command relays, importing ``threading`` on that path."""
    python, *rest = smconnect_command()
    command = shlex.join([python, "-X", "importtime", *rest, "proxy", "--fdpass"]) + " %n"
    done = opened_stack.ssh(
        "-o", f"ProxyCommand={command}", "-o", "ProxyUseFdpass=no", "sm-demo", "echo via-relay"
    )  # fmt: skip
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert done.stdout == b"via-relay\n"
    assert "threading" in imported(stderr)
