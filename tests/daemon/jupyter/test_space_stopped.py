"""A space stopped under the daemon's Jupyter URL: the kernel connections riding on it are cut,
the daemon log names the cause, the client's next request gets a 502 that names it too, and
``smconnect kernels --wait`` ends with one line naming it."""

from __future__ import annotations

import socket
import subprocess
import urllib.error
import urllib.request

from bridge.testing.sandbox import SMCONNECT
from tests.support import wait_until
from tests.support.interrupted import run_interrupted

from .kernels_helpers import Stack


def _keep_alive_request(url: str, token: str) -> socket.socket:
    """A client connection held open after one answered request (as a kernel's is)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1] + "api/status"
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: token {token}\r\n\r\n".encode()
    )
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    return sock


def test_a_stopped_space_is_named_in_the_log_and_to_the_client(stack: Stack) -> None:
    info = stack.call("jupyter.ensure", {"space": "demo", **stack.context})
    held = _keep_alive_request(info["url"], info["token"])
    log = stack.state_dir / "daemon.log"
    with held:
        stack.call("space.stop", {"space": "demo", **stack.context, "force": True})
        held.settimeout(30)
        assert held.recv(65536) == b""  # cut: what a kernel's websocket sees
    assert wait_until(lambda: "client connections cut: space 'demo' stopped" in log.read_text())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        f"{info['url']}api/status", headers={"Authorization": f"token {info['token']}"}
    )
    try:
        opener.open(request, timeout=30)
        raise AssertionError("a stopped space answered")
    except urllib.error.HTTPError as exc:
        assert exc.code == 502
        assert "space 'demo' is not running" in exc.read().decode()


def test_kernels_wait_ends_with_one_line_when_the_space_stops(stack: Stack) -> None:
    def url_shown(proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        assert any(b"?token=" in line for line in iter(proc.stdout.readline, b""))

    def stop() -> None:
        stack.call("space.stop", {"space": "demo", **stack.context, "force": True})

    argv = [SMCONNECT, "kernels", "demo", "--wait"]
    returncode, stderr = run_interrupted(argv, stack.env, url_shown, stop)
    assert returncode == 1, stderr
    lines = stderr.decode().splitlines()  # the start's progress lines, then the ending
    ending = [ln for ln in lines if "stopped" in ln]
    assert ending == lines[-1:], stderr
    assert ending[0].startswith("smconnect: space 'demo' stopped: its kernels are gone"), stderr
    assert b"Traceback" not in stderr
