"""JSON-RPC over the real unix socket: error codes, typed params, notifications, timeouts."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import unix_connect

from bridge.daemon import rpc
from bridge.daemon.client import CallTimeout, DaemonClient, DaemonUnavailable, RpcError
from bridge.daemon.server import DaemonServer
from bridge.paths import DaemonPaths


async def raw_exchange(paths: DaemonPaths, text: str) -> dict[str, Any]:
    async with unix_connect(str(paths.socket), uri="ws://localhost/") as ws:
        await ws.send(text)
        return dict(json.loads(await asyncio.wait_for(ws.recv(), 5)))


async def test_status_and_typed_params(served: DaemonServer, daemon_paths: DaemonPaths) -> None:
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        status = await c.call("daemon.status")
        assert status["endpoint"] == str(daemon_paths.socket)
        assert status["transport"] == "unix"
        assert status["connections"] == 1
        assert await c.call("test.echo", {"text": "ab", "count": 3}) == {"text": "ababab"}
        assert await c.call("test.echo", {"text": "x"}) == {"text": "x"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", rpc.PARSE_ERROR),
        ("[" * 200_000, rpc.PARSE_ERROR),  # deeper than the parser's stack
        ('{"a":' * 100_000 + "1" + "}" * 100_000, rpc.PARSE_ERROR),
        ('[{"jsonrpc": "2.0", "method": "daemon.status", "id": 1}]', rpc.INVALID_REQUEST),
        ('{"method": "daemon.status", "id": 1}', rpc.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "method": 5, "id": 1}', rpc.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "method": "test.echo", "params": "x", "id": 1}', rpc.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "method": "nope", "id": 1}', rpc.METHOD_NOT_FOUND),
        ('{"jsonrpc": "2.0", "method": "test.echo", "params": ["a"], "id": 1}', rpc.INVALID_PARAMS),
        ('{"jsonrpc": "2.0", "method": "test.echo", "params": {}, "id": 1}', rpc.INVALID_PARAMS),
        (
            '{"jsonrpc": "2.0", "method": "test.echo", "params": {"text": 1}, "id": 1}',
            rpc.INVALID_PARAMS,
        ),
        (
            '{"jsonrpc": "2.0", "method": "test.echo", "params": {"text": "a", "count": true}, "id": 1}',
            rpc.INVALID_PARAMS,
        ),
        (
            '{"jsonrpc": "2.0", "method": "test.echo", "params": {"text": "a", "x": 1}, "id": 1}',
            rpc.INVALID_PARAMS,
        ),
        (
            '{"jsonrpc": "2.0", "method": "daemon.status", "params": {"x": 1}, "id": 1}',
            rpc.INVALID_PARAMS,
        ),
    ],
)
async def test_protocol_error_codes(
    served: DaemonServer, daemon_paths: DaemonPaths, text: str, code: int
) -> None:
    answer = await raw_exchange(daemon_paths, text)
    assert answer["jsonrpc"] == "2.0"
    assert answer["error"]["code"] == code
    assert isinstance(answer["error"]["data"]["kind"], str)
    if '"id": 1' in text and not text.startswith("["):
        assert answer["id"] == 1


async def test_application_and_internal_errors(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        with pytest.raises(RpcError) as app:
            await c.call("test.fail")
        assert (app.value.code, app.value.kind) == (rpc.APPLICATION_ERROR, "space_not_found")
        assert app.value.data == {"kind": "space_not_found", "space": "demo"}
        assert app.value.message == "space demo not found"
        for method in ("test.crash", "test.bad_result"):
            with pytest.raises(RpcError) as internal:
                await c.call(method)
            assert (internal.value.code, internal.value.kind) == (rpc.INTERNAL_ERROR, "internal")
            assert (
                "boom" not in internal.value.message
            )  # exception text stays in the (redacted) log
        with pytest.raises(RpcError) as missing:
            await c.call("no.such.method")
        assert missing.value.code == rpc.METHOD_NOT_FOUND
        assert await c.call("daemon.status")  # the connection survived every error


async def test_notification_request_gets_no_answer(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    async with unix_connect(str(daemon_paths.socket), uri="ws://localhost/") as ws:
        await ws.send(rpc.encode_request("test.echo", {"text": "a"}, None))
        await ws.send(rpc.encode_request("test.echo", {"text": "b"}, 7))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert answer == {"jsonrpc": "2.0", "id": 7, "result": {"text": "b"}}


async def test_progress_notifications_reach_the_call(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        result = await c.call(
            "test.progress", {"n": 5}, on_notification=lambda m, p: seen.append((m, p))
        )
    assert result == {"done": 5}
    assert seen == [("progress", {"step": i}) for i in range(5)]


async def test_broadcast_reaches_other_connections(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    got: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    async def async_handler(method: str, params: dict[str, Any]) -> None:
        await got.put((method, params))

    async with (
        DaemonClient.connect(autostart=False, paths=daemon_paths) as listener,
        DaemonClient.connect(autostart=False, paths=daemon_paths) as actor,
    ):
        unsubscribe = listener.subscribe(async_handler)
        assert await actor.call("test.broadcast", {"space": "demo", "state": "InService"}) == {
            "sent": 2
        }
        assert await asyncio.wait_for(got.get(), 5) == (
            "session.state",
            {"space": "demo", "state": "InService"},
        )
        unsubscribe()


async def test_slow_call_does_not_block_others_and_times_out(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        slow = asyncio.create_task(c.call("test.sleep", {"seconds": 0.5}))
        fast = await c.call("test.echo", {"text": "quick"})
        assert fast == {"text": "quick"} and not slow.done()
        assert await slow == {"slept": 0.5}
        with pytest.raises(CallTimeout):
            await c.call("test.sleep", {"seconds": 5}, timeout=0.2)
        assert await c.call("test.echo", {"text": "still"}) == {"text": "still"}


async def test_calls_fail_cleanly_when_the_daemon_goes(
    served: DaemonServer, daemon_paths: DaemonPaths
) -> None:
    async with DaemonClient.connect(autostart=False, paths=daemon_paths) as c:
        pending = asyncio.create_task(c.call("test.sleep", {"seconds": 10}))
        await asyncio.sleep(0.1)
        await served.close()
        with pytest.raises(DaemonUnavailable):
            await pending
        with pytest.raises(DaemonUnavailable):
            await c.call("daemon.status")


async def test_no_daemon_without_autostart(daemon_paths: DaemonPaths) -> None:
    with pytest.raises(DaemonUnavailable, match="not running"):
        await DaemonClient.open(autostart=False, paths=daemon_paths)
