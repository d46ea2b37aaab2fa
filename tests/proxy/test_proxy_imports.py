"""What the ProxyCommand loads on the descriptor path, run for real: OpenSSH starts it from the
generated config, it asks the sandbox daemon for the channel's descriptor, passes it to ssh and
exits. ``-X importtime`` (added to the generated command) lists every module it imported."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from bridge.ssh.command import smconnect_command
from bridge.testing.sandbox import FAST_DAEMON, Sandbox
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


def _ssh_importtime(stack: Sandbox, fdpass: str, remote: str) -> set[str]:
    """Run ``ssh sm-demo REMOTE`` with the generated ProxyCommand under ``-X importtime``
    (``ProxyUseFdpass`` set to ``fdpass``); check it printed ``REMOTE``'s output, and return
    the modules the proxy imported."""
    python, *rest = smconnect_command()
    command = shlex.join([python, "-X", "importtime", *rest, "proxy", "--fdpass"]) + " %n"
    done = stack.ssh(
        "-o", f"ProxyCommand={command}", "-o", f"ProxyUseFdpass={fdpass}", "sm-demo", remote
    )  # fmt: skip
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert done.stdout == remote.removeprefix("echo ").encode() + b"\n"
    return imported(stderr)


def test_the_descriptor_path_imports_only_what_it_needs(opened_stack: Sandbox) -> None:
    assert opened_stack.ssh("sm-demo", "true").returncode == 0  # the daemon and channel are up
    loaded = _ssh_importtime(opened_stack, "yes", "echo via-fd")
    assert "bridge.proxy" in loaded
    extra = loaded - _interpreter_start() - FDPASS_MODULES
    assert extra == set(), f"the descriptor path imported {sorted(extra)}"
    assert not NOT_ON_THE_FAST_PATH & loaded


def test_the_relay_path_still_relays_with_its_own_imports(opened_stack: Sandbox) -> None:
    """``ProxyUseFdpass no``: the same command relays, importing ``threading`` on that path."""
    assert "threading" in _ssh_importtime(opened_stack, "no", "echo via-relay")


def test_the_tcp_transport_relays_and_imports_socket_there_only(
    opened_stack: Sandbox, tmp_path: Path
) -> None:
    """Where AF_UNIX is missing (forced here) the daemon listens on loopback TCP with a token
    in ``daemon.tcp``: the proxy reads it, imports ``socket`` for that path only, and relays
    (it passes no descriptor over TCP, so ssh runs with ``ProxyUseFdpass no``, as
    ``ssh-config install --no-fdpass`` writes it), through real OpenSSH."""
    tcp = Sandbox.create(
        tmp_path / "home",
        opened_stack.emu.env,
        extra={**FAST_DAEMON, "SMCONNECT_DAEMON_TRANSPORT": "tcp"},
        emulator=opened_stack.emu,
    )
    try:
        tcp.call("space.open", {"space": "demo", "endpoint_url": tcp.emu.endpoint_url})
        assert (tcp.runtime_dir / "daemon.tcp").exists()
        loaded = _ssh_importtime(tcp, "no", "echo via-tcp")
    finally:
        tcp.stop_daemon()
    assert {"socket", "threading"} <= loaded
