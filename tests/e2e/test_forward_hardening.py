"""Forwards and relays against the emulator: who may use a forward, what a bad request gets,
and that every ending or outage is said plainly (issue 15 defects 2, 3, 4, 6; issues 14, 16)."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from bridge.daemon.client import RpcError
from bridge.daemon.rpc import INVALID_PARAMS
from tests.support.other_user import OtherUser

from .e2e_helpers import BOTH_PATHS, Stack, session_ending

PYTHON = (sys.executable, "-c")
DOMAIN = "d-emulator00001"
STATUS = b"GET /jupyterlab/default/api/status HTTP/1.0\r\nHost: x\r\n\r\n"


def _context(stack: Stack, space: str = "demo") -> dict[str, Any]:
    return {"space": space, "endpoint_url": stack.emu.endpoint_url}


def _get(sock: socket.socket) -> bytes:
    """One HTTP/1.0 request to the space's Jupyter over ``sock``; the whole reply."""
    with sock:
        sock.settimeout(30)
        sock.sendall(STATUS)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        return b"".join(chunks)


def _forward_entry(stack: Stack, fwd_id: str) -> dict[str, Any]:
    forwards = stack.call("forward.list")["forwards"]
    entry: dict[str, Any] = next(f for f in forwards if f["id"] == fwd_id)
    return entry


def _wait_state(stack: Stack, fwd_id: str, want: str, seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        entry = _forward_entry(stack, fwd_id)
        if entry["state"] == want or time.monotonic() > deadline:
            return entry
        time.sleep(0.1)


def _sagemaker(stack: Stack) -> Any:
    return boto3.Session(
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
        region_name=stack.env["AWS_DEFAULT_REGION"],
    ).client("sagemaker", endpoint_url=stack.emu.endpoint_url)


def _app_status(stack: Stack, space: str) -> str:
    apps = _sagemaker(stack).list_apps(DomainIdEquals=DOMAIN, SpaceNameEquals=space)["Apps"]
    live = [a["Status"] for a in apps if a["Status"] not in ("Deleted", "Failed")]
    return live[0] if live else "none"


def test_a_forward_refuses_another_local_user(stack: Stack, other_user: OtherUser) -> None:
    fwd = stack.call("forward.open", {**_context(stack), "remote_port": 8888})
    try:
        port = fwd["local_port"]
        assert fwd["peer_check"] is True
        assert b'"started"' in _get(socket.create_connection(("127.0.0.1", port)))
        script = (
            "import socket, sys\n"
            f"s = socket.create_connection(('127.0.0.1', {port}), timeout=30)\n"
            f"s.sendall({STATUS!r})\n"
            "data = b''\n"
            "try:\n"
            "    while chunk := s.recv(65536):\n"
            "        data += chunk\n"
            "except ConnectionResetError:\n"
            "    pass\n"
            "sys.stdout.write(repr(data))\n"
        )
        other = subprocess.run(
            other_user.argv(*PYTHON, script),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert other.returncode == 0, other.stderr
        assert other.stdout == "b''"  # closed before a byte reached the space
        assert _forward_entry(stack, fwd["id"])["refused"] == 1
        log = (stack.state_dir / "daemon.log").read_text()
        assert f"refused a connection from uid {other_user.uid}" in log
    finally:
        stack.call("forward.close", {"id": fwd["id"]})


def test_a_unix_socket_forward_is_ours_alone(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "jupyter.sock"
    fwd = stack.call(
        "forward.open", {**_context(stack), "remote_port": 8888, "unix_socket": str(path)}
    )
    try:
        assert fwd["local"] == str(path) and fwd["unix_socket"] == str(path)
        mode = path.lstat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(str(path))
        assert b'"started"' in _get(sock)
    finally:
        stack.call("forward.close", {"id": fwd["id"]})
    assert not path.exists()


@pytest.mark.parametrize(
    "ports",
    [
        {"remote_port": -1},
        {"remote_port": 0},
        {"remote_port": 70000},
        {"remote_port": 8888, "local_port": 70000},
    ],
)
def test_forward_open_checks_ports_before_anything_runs(
    stack: Stack, ports: dict[str, int]
) -> None:
    with pytest.raises(RpcError) as caught:
        stack.call("forward.open", {**_context(stack), **ports})
    assert caught.value.code == INVALID_PARAMS
    assert "65535" in caught.value.message
    assert stack.call("forward.list")["forwards"] == []


def test_a_forward_to_a_port_nothing_listens_on_says_so(stack: Stack) -> None:
    fwd = stack.call("forward.open", {**_context(stack), "remote_port": 1})
    try:
        assert _get(socket.create_connection(("127.0.0.1", fwd["local_port"]))) == b""
        entry = _forward_entry(stack, fwd["id"])
        assert "nothing listens on 127.0.0.1:1 in space 'demo'" in (entry["error"] or "")
        listed = stack.smconnect("forward", "--list")
        assert listed.returncode == 0 and "nothing listens on" in listed.stdout
        status = stack.smconnect("status")
        assert "nothing listens on" in status.stdout
        assert "nothing listens on 127.0.0.1:1" in (stack.state_dir / "daemon.log").read_text()
    finally:
        stack.call("forward.close", {"id": fwd["id"]})


def test_ssh_to_a_space_without_remote_access_starts_nothing(stack: Stack) -> None:
    stack.call("space.open", _context(stack))  # installs the ssh config
    assert _app_status(stack, "locked") == "none"
    done = stack.ssh("sm-locked", "true")
    assert done.returncode != 0
    ours = [ln for ln in done.stderr.decode().splitlines() if ln.startswith("smconnect:")]
    assert len(ours) == 1 and "remote access is disabled" in ours[0], done.stderr
    forward = stack.smconnect("forward", "locked", "8888", "--background")
    assert forward.returncode != 0 and "remote access is disabled" in forward.stderr
    assert _app_status(stack, "locked") == "none"


@BOTH_PATHS
def test_ssh_names_a_space_stopped_under_it(stack: Stack, path: list[str]) -> None:
    stack.call("space.open", _context(stack))
    returncode, stderr = session_ending(
        stack, lambda: stack.call("space.stop", {**_context(stack), "force": True}), path
    )
    assert returncode != 0
    ours = [ln for ln in stderr.decode().splitlines() if ln.startswith("smconnect:")]
    assert len(ours) == 1 and "space 'demo' stopped" in ours[0], stderr
    assert b"Traceback" not in stderr


def test_a_background_forward_comes_back_after_stop_and_start(stack: Stack) -> None:
    stack.call("space.open", _context(stack))
    fwd = stack.call("forward.open", {**_context(stack), "remote_port": 8888})
    try:
        port = fwd["local_port"]
        assert fwd["state"] == "connected"
        stack.call("space.stop", {**_context(stack), "force": True})
        assert _wait_state(stack, fwd["id"], "space stopped")["state"] == "space stopped"
        status = json.loads(stack.smconnect("status", "--json").stdout)
        assert [f["state"] for f in status["forwards"]] == ["space stopped"]
        # A connection while the space is stopped is refused, and starts nothing.
        assert _get(socket.create_connection(("127.0.0.1", port))) == b""
        assert _app_status(stack, "demo") == "none"

        stack.call("space.start", _context(stack))
        assert b'"started"' in _get(socket.create_connection(("127.0.0.1", port)))
        assert _forward_entry(stack, fwd["id"])["state"] == "connected"
    finally:
        stack.call("forward.close", {"id": fwd["id"]})


def test_a_local_port_in_use_is_refused_before_the_app_starts(stack: Stack) -> None:
    stack.call("space.stop", {**_context(stack), "force": True})
    assert _app_status(stack, "demo") == "none"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(RpcError) as caught:
            stack.call("forward.open", {**_context(stack), "remote_port": 8888, "local_port": port})
    assert caught.value.kind == "local_port"
    assert caught.value.message == f"127.0.0.1:{port} is already in use"
    assert _app_status(stack, "demo") == "none"
