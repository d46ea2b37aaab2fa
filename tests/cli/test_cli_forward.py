"""forward (background and foreground) and status, with real traffic to the space's Jupyter.

The tests share one daemon and running space (``module_cli``); each closes the forwards it
opens, and several check that none is left."""

from __future__ import annotations

import json
import re
import signal
import socket
import stat
import urllib.request
from pathlib import Path

import pytest

from .cli_helpers import Cli, read_until

STATUS_PATH = "/jupyterlab/default/api/status"


def _jupyter_status(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{STATUS_PATH}", timeout=30) as r:
        assert r.status == 200
        data: dict[str, object] = json.loads(r.read())
    return data


@pytest.mark.long
def test_forward_in_the_background_then_close(module_cli: Cli) -> None:
    fwd = module_cli.run("forward", "demo", "0:8888", "--background", "--json").ok().json()
    port = fwd["local_port"]
    assert port > 0 and fwd["remote_port"] == 8888 and fwd["space"] == "demo"
    assert "started" in _jupyter_status(port)

    status = module_cli.run("status", "--json").ok().json()
    assert status["daemon"]["pid"] > 0
    assert [f["id"] for f in status["forwards"]] == [fwd["id"]]
    session = next(s for s in status["sessions"] if s["id"] == fwd["id"])
    assert session["space"] == "demo" and session["state"] == "connected"
    assert session["bytes_received"] > 0 and session["bytes_sent"] > 0
    human = module_cli.run("status").ok().stdout
    assert "Sessions" in human and "Forwards" in human and f"127.0.0.1:{port}" in human

    listed = module_cli.run("forward", "--list", "--json").ok().json()
    assert [f["id"] for f in listed] == [fwd["id"]]
    closed = module_cli.run("forward", "--close", fwd["id"]).ok()
    assert fwd["id"] in closed.stdout
    assert module_cli.run("forward", "--list", "--json").ok().json() == []
    assert module_cli.run("status", "--json").ok().json()["forwards"] == []
    module_cli.run("forward", "--close", fwd["id"]).fails(3, fwd["id"])


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_forward_in_the_foreground_until_a_signal(
    module_cli: Cli, stop_signal: signal.Signals
) -> None:
    proc = module_cli.popen("forward", "demo", "0:8888")
    try:
        assert proc.stdout is not None
        line = read_until(proc.stdout, lambda ln: ln.startswith("Forwarding"), 120)
        m = re.fullmatch(r"Forwarding 127\.0\.0\.1:(\d+) → demo:8888 \(Ctrl-C to stop\)\n", line)
        assert m, line
        assert "started" in _jupyter_status(int(m.group(1)))
        proc.send_signal(stop_signal)
        assert proc.wait(30) == 0
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert "Traceback" not in err and "stopped forwarding" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert module_cli.run("forward", "--list", "--json").ok().json() == []


def test_forward_usage_errors(module_cli: Cli) -> None:
    module_cli.run("forward", "demo", "abc").fails(2, "'abc' is not a port spec")
    module_cli.run("forward", "demo", "70000").fails(2, "65535")
    module_cli.run("forward", "demo").fails(2, "usage: smconnect forward")
    module_cli.run("forward", "--list", "--close", "x").fails(2)


def test_forward_several_ports_in_one_command(module_cli: Cli) -> None:
    opened = (
        module_cli.run("forward", "demo", "0:8888", "0:8888", "--background", "--json").ok().json()
    )
    try:
        assert len(opened) == 2 and len({f["local_port"] for f in opened}) == 2
        for fwd in opened:
            assert fwd["local_host"] == "127.0.0.1" and fwd["state"] == "connected"
            assert "started" in _jupyter_status(fwd["local_port"])
    finally:
        for fwd in opened:
            module_cli.run("forward", "--close", fwd["id"]).ok()


def test_forward_bind_address(module_cli: Cli) -> None:
    fwd = (
        module_cli.run("forward", "demo", "0:8888", "--bind", "127.0.0.2", "-b", "--json")
        .ok()
        .json()
    )
    try:
        assert fwd["local"] == f"127.0.0.2:{fwd['local_port']}"
        url = f"http://127.0.0.2:{fwd['local_port']}{STATUS_PATH}"
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200
    finally:
        module_cli.run("forward", "--close", fwd["id"]).ok()


def test_a_local_port_in_use_is_one_line_with_the_fix(module_cli: Cli) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = module_cli.run("forward", "demo", f"{port}:8888", "--background")
        result.fails(1, f"127.0.0.1:{port} is already in use")
        assert "--close" in result.stderr and "0:8888" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert module_cli.run("forward", "--list", "--json").ok().json() == []


def test_forward_unix_socket(module_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "fwd.sock"
    fwd = module_cli.run("forward", "demo", "8888", "--unix-socket", str(path), "-b", "--json").ok()
    opened = fwd.json()
    try:
        assert opened["local"] == str(path) and stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        module_cli.run("forward", "--close", opened["id"]).ok()
    module_cli.run("forward", "demo", "8888", "6006", "--unix-socket", str(path)).fails(
        2, "one port"
    )


def test_a_foreground_forward_says_when_nothing_listens_in_the_space(module_cli: Cli) -> None:
    proc = module_cli.popen("forward", "demo", "0:1")
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = read_until(proc.stdout, lambda ln: ln.startswith("Forwarding"), 120)
        m = re.fullmatch(r"Forwarding 127\.0\.0\.1:(\d+) → demo:1 \(Ctrl-C to stop\)\n", line)
        assert m, line
        with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=30) as sock:
            assert sock.recv(1) == b""  # closed: the space refused the channel
        said = read_until(proc.stderr, lambda ln: "nothing listens on" in ln, 30)
        assert "127.0.0.1:1 in space 'demo'" in said
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
