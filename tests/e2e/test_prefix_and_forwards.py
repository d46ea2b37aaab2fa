"""A custom host prefix survives the daemon's refreshes; a foreground forward dies with its client.

(A forward across a space stop/start: ``test_forward_hardening``.)"""

from __future__ import annotations

import asyncio
import os
import time

from bridge.daemon.client import DaemonClient

from .e2e_helpers import Stack


def test_a_custom_prefix_works_through_the_proxy_and_survives_open(stack: Stack) -> None:
    installed = stack.smconnect("ssh-config", "install", "--prefix", "dev-")
    assert installed.returncode == 0, installed.stderr
    opened = stack.smconnect("open", "demo", "--yes", "--no-editor", "--json")
    assert opened.returncode == 0, opened.stderr
    assert '"ssh_host": "dev-demo"' in opened.stdout

    done = stack.ssh("dev-demo", "echo prefixed")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"prefixed\n"
    assert "Host dev-*" in (stack.home / ".ssh" / "smconnect" / "config").read_text()


def test_a_forward_tied_to_its_connection_ends_with_it(stack: Stack) -> None:
    params = {
        "space": "demo",
        "endpoint_url": stack.emu.endpoint_url,
        "remote_port": 8888,
        "close_with_connection": True,
    }

    async def open_then_drop() -> str:
        async with DaemonClient.connect(autostart=True) as client:
            forward = await client.call("forward.open", params, timeout=120)
            listed = await client.call("forward.list")
            assert [f["id"] for f in listed["forwards"]] == [forward["id"]]
            return str(forward["id"])

    saved = dict(os.environ)
    os.environ.update(stack.env)
    try:
        asyncio.run(open_then_drop())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    for _ in range(50):
        if not stack.call("forward.list")["forwards"]:
            break
        time.sleep(0.1)
    assert stack.call("forward.list")["forwards"] == []
