"""Exported credentials travel only where the peer is known to be us: the same-uid unix socket,
or the TCP fallback whose handshake checked the token; never an unauthenticated TCP port."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from bridge.daemon.dispatch import Api, build_params
from bridge.daemon.params import ContextParams
from bridge.daemon.rpc import ApiError
from bridge.daemon.server import DaemonServer

CREDENTIALS = {"access_key_id": "AKIATRANSPORTTEST001", "secret_access_key": "s" * 40}


def _api() -> Api:
    api = Api()

    @api.method("test.identity")
    async def identity(conn: object, params: ContextParams) -> dict[str, Any]:
        return {"source": params.context.key.source}

    return api


async def _ask(url: str, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    async with connect(url, additional_headers=headers, proxy=None) as ws:
        request = {"jsonrpc": "2.0", "method": "test.identity", "params": params, "id": 1}
        await ws.send(json.dumps(request))
        answer: dict[str, Any] = json.loads(await ws.recv())
        return answer


async def test_credentials_are_refused_over_tcp_without_a_token() -> None:
    server = DaemonServer(_api(), token=None)
    url = f"ws://127.0.0.1:{await server.start_tcp()}/"
    try:
        refused = await _ask(url, {"credentials": CREDENTIALS}, {})
        assert refused["error"]["code"] == -32602
        assert "unix socket" in refused["error"]["message"]
        assert CREDENTIALS["secret_access_key"] not in json.dumps(refused)
        plain = await _ask(url, {"profile": "dev", "caller_env": True}, {})
        assert plain["result"] == {"source": "profile"}
    finally:
        await server.close()


async def test_credentials_are_taken_over_tcp_with_the_token() -> None:
    server = DaemonServer(_api(), token="transport-test-token")
    url = f"ws://127.0.0.1:{await server.start_tcp()}/"
    try:
        headers = {"Authorization": "Bearer transport-test-token"}
        taken = await _ask(url, {"credentials": CREDENTIALS, "caller_env": True}, headers)
        assert taken["result"] == {"source": "environment"}
    finally:
        await server.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"access_key_id": "AKIATRANSPORTTEST001"},
        {**CREDENTIALS, "extra": "x"},
        {**CREDENTIALS, "session_token": 5},
    ],
)
def test_credentials_of_the_wrong_shape_are_invalid_params(bad: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as refused:
        build_params(ContextParams, {"credentials": bad})
    assert refused.value.kind == "invalid_params"
