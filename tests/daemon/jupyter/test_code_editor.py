"""CodeEditor spaces have no Jupyter server: one is started on demand, or a clear error given."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.daemon.client import RpcError
from bridge.emulator.runtime.space import SPACE_PATH_ENV

from .kernels_helpers import Stack
from .notebook import Notebook

BARE_PATH = "/usr/bin:/bin"


def _start_editor(stack: Stack, path: str | None = None) -> Path:
    """(Re)start the editor space; ``path`` replaces the PATH its sessions see."""
    stack.call("space.stop", {"space": "editor", **stack.context, "force": True})
    saved = os.environ.get(SPACE_PATH_ENV)
    if path is not None:
        os.environ[SPACE_PATH_ENV] = path
    try:
        stack.call("space.start", {"space": "editor", **stack.context})
    finally:
        os.environ.pop(SPACE_PATH_ENV, None)
        if saved is not None:
            os.environ[SPACE_PATH_ENV] = saved
    return stack.space_home("editor")


def test_missing_jupyter_is_a_clear_error(stack: Stack) -> None:
    assert shutil.which("jupyter", path=BARE_PATH) is None
    _start_editor(stack, BARE_PATH)
    with pytest.raises(RpcError) as caught:
        stack.call("jupyter.ensure", {"space": "editor", **stack.context})
    assert caught.value.kind == "jupyter_missing"
    assert "no `jupyter` command" in caught.value.message
    assert "pip install jupyter-server ipykernel" in caught.value.message
    assert not [s for s in stack.call("jupyter.list")["servers"] if s["space"] == "editor"]


@pytest.fixture(scope="module")
def editor_home(stack: Stack) -> Path:
    return _start_editor(stack)


async def test_a_server_started_on_demand_runs_kernels(stack: Stack, editor_home: Path) -> None:
    first: dict[str, Any] = await stack.acall(
        "jupyter.ensure", {"space": "editor", **stack.context}
    )
    assert first["on_demand"] is True
    assert first["base_url"] == "/jupyter/default/"
    assert first["url"] == f"http://127.0.0.1:{first['local_port']}/jupyter/default/"
    assert len(first["token"]) == 48
    assert first["connect_url"] == f"{first['url']}?token={first['token']}"
    assert "python3" in first["kernelspecs"]
    # The token is needed: the server listens on the space's loopback, guarded by it.
    async with Notebook(first["url"], first["token"]) as nb:
        cell = await nb.execute("sum(range(10**6))")
    assert cell.results == ["499999500000"]
    # A second ensure finds the server it started, rather than starting another.
    again = await stack.acall("jupyter.ensure", {"space": "editor", **stack.context})
    assert (again["token"], again["remote_port"]) == (first["token"], first["remote_port"])
    state = (editor_home / ".smconnect" / "jupyter-server").read_text().split()
    assert state[1:] == [str(first["remote_port"]), first["token"]]
    assert oct((editor_home / ".smconnect" / "jupyter-server").stat().st_mode & 0o777) == "0o600"
    closed = await stack.acall("jupyter.close", {"space": "editor"})
    assert closed["closed"] == "editor"
    assert first["token"] not in (stack.state_dir / "daemon.log").read_text()
    assert "started a server on port" in (stack.state_dir / "daemon.log").read_text()


async def test_the_token_guards_the_server(stack: Stack, editor_home: Path) -> None:
    info = await stack.acall("jupyter.ensure", {"space": "editor", **stack.context})
    async with aiohttp.ClientSession() as http:
        for token, status in (("not-the-token", 403), ("", 403), (info["token"], 200)):
            headers = {"Authorization": f"token {token}"} if token else {}
            async with http.get(f"{info['url']}api/kernels", headers=headers) as response:
                assert response.status == status, token
    await stack.acall("jupyter.close", {"space": "editor"})
