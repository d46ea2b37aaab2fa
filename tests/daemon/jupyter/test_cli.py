"""``smconnect kernels`` through the real console script."""

from __future__ import annotations

import json
import socket
import urllib.request

from .kernels_helpers import Stack


def test_kernels_json_then_close(stack: Stack) -> None:
    done = stack.smconnect("kernels", "demo", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    port = info["local_port"]
    assert info["url"] == f"http://127.0.0.1:{port}/jupyterlab/default/"
    assert info["connect_url"] == f"{info['url']}?token={info['token']}"
    assert "python3" in info["kernelspecs"]
    assert isinstance(info["kernels"], list)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{info['connect_url']}", timeout=30) as response:
        assert b"Jupyter" in response.read() or response.status == 200
    status = urllib.request.Request(
        f"{info['url']}api/status", headers={"Authorization": f"token {info['token']}"}
    )
    with opener.open(status, timeout=30) as response:
        assert json.loads(response.read())["started"]

    human = stack.smconnect("kernels", "demo")
    assert human.returncode == 0, human.stderr
    assert human.stdout.splitlines()[1].strip() == info["connect_url"]  # alone on its line
    assert "Existing Jupyter Server" in human.stdout

    closed = stack.smconnect("kernels", "demo", "--close")
    assert closed.returncode == 0, closed.stderr
    assert f"127.0.0.1:{port}" in closed.stdout
    assert not [s for s in stack.call("jupyter.list")["servers"] if s["space"] == "demo"]
    probe = socket.socket()
    try:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    finally:
        probe.close()

    again = stack.smconnect("kernels", "demo", "--close")
    assert again.returncode == 3  # NOT_FOUND
    assert again.stderr.startswith("smconnect: no Jupyter forward for space 'demo'")

    reopened = json.loads(stack.smconnect("kernels", "demo", "--json").stdout)
    # the space keeps its port and token for the daemon's life: a saved URL keeps working
    assert reopened["connect_url"] == info["connect_url"]
    stack.call("jupyter.close", {"space": "demo"})


def test_a_locked_space_says_why(stack: Stack) -> None:
    done = stack.smconnect("kernels", "locked")
    assert done.returncode == 1
    assert "remote access is disabled" in done.stderr
