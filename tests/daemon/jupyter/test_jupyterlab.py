"""A JupyterLab space's own server, through the daemon's stable local URL."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

import aiohttp
import pytest

from .kernels_helpers import Stack
from .notebook import XSRF, Notebook

TICKS = 60


@pytest.fixture(scope="module")
def demo(stack: Stack) -> dict[str, Any]:
    result: dict[str, Any] = stack.call("jupyter.ensure", {"space": "demo", **stack.context})
    return result


def _get(url: str, token: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read())


def test_ensure_describes_the_forward(stack: Stack, demo: dict[str, Any]) -> None:
    port = demo["local_port"]
    assert demo["url"] == f"http://127.0.0.1:{port}/jupyterlab/default/"
    assert len(demo["token"]) == 48  # the local listener's: the space's server has none
    assert demo["connect_url"] == f"{demo['url']}?token={demo['token']}"
    assert demo["base_url"] == "/jupyterlab/default/"
    assert demo["space"] == "demo"
    assert "python3" in demo["kernelspecs"]
    assert isinstance(demo["kernels"], list)
    assert demo["session"]["purpose"] == "jupyter"
    # a second ensure reuses the same listener and SSH connection
    again = stack.call("jupyter.ensure", {"space": "demo", **stack.context})
    assert again["local_port"] == port
    assert again["session"]["id"] == demo["session"]["id"]
    listed = stack.call("jupyter.list")["servers"]
    assert [s["local_port"] for s in listed if s["space"] == "demo"] == [port]


async def test_the_local_url_wants_the_token(demo: dict[str, Any]) -> None:
    """Header, cookie or ?token= on a connection's first request; a browser that came with
    ?token= gets the cookie, so the page's own requests (and websockets) need no token."""
    url, token = demo["url"], demo["token"]
    cookie = f"smconnect-jupyter-{demo['local_port']}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        for headers in ({}, {"Authorization": "token wrong"}, {"Cookie": f"{cookie}=wrong"}):
            async with http.get(f"{url}api/status", headers=headers) as response:
                assert response.status == 403
                assert "smconnect kernels demo" in await response.text()
        async with http.get(f"{url}api/status?token=wrong") as response:
            assert response.status == 403
        async with http.get(f"{url}api/status?token={token}") as response:
            assert response.status == 200
            assert f"{cookie}={token}; Path=/; HttpOnly; SameSite=Strict" in (
                response.headers.getall("Set-Cookie")
            )
        for headers in ({"Authorization": f"token {token}"}, {"Cookie": f"a=b; {cookie}={token}"}):
            async with http.get(f"{url}api/status", headers=headers) as response:
                assert response.status == 200
                assert not [
                    c for c in response.headers.getall("Set-Cookie", []) if c.startswith(cookie)
                ]
        # A body behind a ?token= head (the cookie waits for the response; the body must not).
        xsrf = {"X-XSRFToken": XSRF, "Cookie": f"_xsrf={XSRF}"}
        body = {"path": "gate.ipynb", "type": "notebook"}
        async with http.post(f"{url}api/sessions?token={token}", json=body, headers=xsrf) as r:
            assert r.status == 201, await r.text()
            kernel_id = (await r.json())["kernel"]["id"]
        auth = {"Authorization": f"token {token}", **xsrf}
        async with http.delete(f"{url}api/kernels/{kernel_id}", headers=auth) as response:
            assert response.status == 204


async def test_kernel_executes_a_cell(demo: dict[str, Any]) -> None:
    """Like VS Code given the URL: the token, and no XSRF dance (the gate supplies it)."""
    async with Notebook(demo["url"], demo["token"], ws_token_in_query=True, xsrf=False) as nb:
        cell = await nb.execute("sum(range(10**6))")
    assert cell.reply_status == "ok", cell.errors
    assert cell.results == ["499999500000"]


async def test_websocket_drops_under_a_running_cell_lose_no_output(
    stack: Stack, demo: dict[str, Any]
) -> None:
    broker = stack.emu.emulator.broker
    session_id = demo["session"]["session_id"]

    async def arm() -> None:
        broker.faults.drop_every_bytes = 3000
        broker.faults.max_drops = 4

    async def disarm() -> tuple[int, int]:
        broker.faults.drop_every_bytes = None
        broker.faults.max_drops = None
        stats = broker.sessions[session_id].stats
        return stats.drops_injected, stats.resumes

    armed = asyncio.Event()

    async def on_stream(text: str) -> None:
        if not armed.is_set():
            armed.set()
            await asyncio.to_thread(stack.emu.call, arm)

    code = f"import time; [print(i, flush=True) or time.sleep(0.05) for i in range({TICKS})]"
    async with Notebook(demo["url"], demo["token"]) as nb:
        try:
            cell = await nb.execute(f"{code}; None", on_stream=on_stream, timeout=90)
        finally:
            drops, resumes = await asyncio.to_thread(stack.emu.call, disarm)
        after = await nb.execute("sum(range(10**6))")
    assert cell.reply_status == "ok", cell.errors
    assert cell.stream == "".join(f"{i}\n" for i in range(TICKS))
    assert drops >= 2 and resumes >= drops
    assert after.results == ["499999500000"]


async def test_the_same_url_survives_a_channel_that_died(
    stack: Stack, demo: dict[str, Any]
) -> None:
    """The service ends the session (as after a long outage): the next request rebuilds it,
    on the same URL, and the kernel (which lives in the space) still has its state."""
    broker = stack.emu.emulator.broker
    session_id = demo["session"]["session_id"]

    async def terminate() -> None:
        broker.terminate_session(session_id)

    def demo_server() -> dict[str, Any]:
        (server,) = [s for s in stack.call("jupyter.list")["servers"] if s["space"] == "demo"]
        return server

    async with Notebook(demo["url"], demo["token"]) as first:
        await first.execute("x = 41")
        await asyncio.to_thread(stack.emu.call, terminate)
        deadline = time.monotonic() + 15
        while (await asyncio.to_thread(demo_server))["state"] != "idle":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        async with Notebook(demo["url"], demo["token"], kernel_id=first.kernel_id) as again:
            cell = await again.execute("x + 1")
    assert cell.results == ["42"]
    server = await asyncio.to_thread(demo_server)
    assert server["local_port"] == demo["local_port"]
    assert server["state"] == "connected"
    assert server["rebuilds"] == 1
    assert server["session"]["session_id"] != session_id


def test_a_restarted_space_keeps_its_url(stack: Stack, demo: dict[str, Any]) -> None:
    """Stopped: the URL fails fast (no space is started behind a browser's back); ensure
    starts it again on the same port."""
    stack.call("space.stop", {"space": "demo", **stack.context, "force": True})
    began = time.monotonic()
    with pytest.raises(OSError):
        _get(f"{demo['url']}api/status", demo["token"])
    assert time.monotonic() - began < 10
    again = stack.call("jupyter.ensure", {"space": "demo", **stack.context})
    assert (again["url"], again["token"]) == (demo["url"], demo["token"])
    assert again["status"]["started"]
    assert _get(f"{demo['url']}api/kernelspecs", demo["token"])["default"] == "python3"


def test_the_token_stays_out_of_the_log(stack: Stack, demo: dict[str, Any]) -> None:
    log = (stack.state_dir / "daemon.log").read_text()
    assert "jupyter" in log
    assert demo["token"] not in log
