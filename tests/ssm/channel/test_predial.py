"""The websocket's connection opened before the StreamUrl is known (``bridge.ssm.predial``),
against real websockets servers, plain and TLS: used for the upgrade when the URL goes where it
does, closed unused (and a fresh dial made) when it does not or when it died meanwhile. Which
TCP connection carried the websocket is told by its local port, as the server saw it."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from bridge.ssm import dial as dial_module
from bridge.ssm import tls
from bridge.ssm.dial import dial
from bridge.ssm.options import ChannelOptions
from bridge.ssm.predial import DialTarget, PreDial, expected_target, target_of
from bridge.testing.tls import tls_contexts

OPEN_TEXT = '{"MessageSchemaVersion": "1.0"}'


class Server:
    """A websocket server that notes each client's port and the first text it got."""

    def __init__(self) -> None:
        self.peers: list[int] = []
        self.texts: list[str] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        self.peers.append(ws.remote_address[1])
        self.texts.append(str(await ws.recv()))
        await ws.close()


@asynccontextmanager
async def _server(tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server()
    async with serve(server.handler, "localhost", 0, ssl=tls, compression=None) as running:
        port = running.sockets[0].getsockname()[1]
        server.url = f"{'wss' if tls else 'ws'}://localhost:{port}/v1/data-channel/s-1?x=y"
        yield server


async def _opened(predial: PreDial) -> int:
    """The local port of the pre-dialed connection, once open."""
    transport, _ = await predial._opening
    return int(transport.get_extra_info("sockname")[1])


async def _dial_and_close(url: str, predial: PreDial | None) -> None:
    ws = await dial(url, OPEN_TEXT, ChannelOptions(), predial)
    await ws.wait_closed()


async def test_the_upgrade_runs_on_the_connection_opened_beforehand() -> None:
    async with _server() as server:
        predial = PreDial.start(target_of(server.url))
        assert predial is not None
        port = await _opened(predial)
        await _dial_and_close(server.url, predial)
    assert server.peers == [port] and server.texts == [OPEN_TEXT]


async def test_tls_is_done_beforehand_too(tmp_path: Path) -> None:
    server_tls, client_tls = tls_contexts(tmp_path)
    async with _server(server_tls) as server:
        target = target_of(server.url)
        assert target is not None and target.secure and target.host == "localhost"
        predial = PreDial(target, ssl_context=client_tls)
        transport, _ = await predial._opening
        assert transport.get_extra_info("ssl_object") is not None  # handshaken before the URL
        port = transport.get_extra_info("sockname")[1]
        await _dial_and_close(server.url, predial)
    assert server.peers == [port] and server.texts == [OPEN_TEXT]


async def test_a_wrong_guess_is_closed_unused_and_the_url_dialled() -> None:
    got: list[bytes] = []

    async def elsewhere(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.read())  # b"" at the close: nothing was ever sent here
        writer.close()

    other = await asyncio.start_server(elsewhere, "localhost", 0)
    try:
        wrong = DialTarget(False, "localhost", other.sockets[0].getsockname()[1])
        predial = PreDial(wrong)
        port = await _opened(predial)
        async with _server() as server:
            await _dial_and_close(server.url, predial)
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
    finally:
        other.close()
    assert got == [b""]
    assert server.peers and server.peers != [port] and server.texts == [OPEN_TEXT]


async def test_a_connection_that_died_meanwhile_is_replaced_by_a_fresh_dial() -> None:
    async with _server() as server:
        predial = PreDial.start(target_of(server.url))
        assert predial is not None
        transport, parked = await predial._opening
        port = transport.get_extra_info("sockname")[1]
        transport.abort()  # as a server or a middlebox closing an idle connection would
        await asyncio.sleep(0)
        assert not parked.usable
        await _dial_and_close(server.url, predial)
    assert server.peers and server.peers != [port] and server.texts == [OPEN_TEXT]


async def test_an_upgrade_left_unanswered_is_replaced_by_a_fresh_dial_soon(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pre-dialed connection that died silently (a spare kept across a network change)
    holds the channel ``PREDIALED_ANSWER`` seconds, not the whole open timeout (10 s)."""
    monkeypatch.setattr(dial_module, "PREDIALED_ANSWER", 0.3)
    loop = asyncio.get_running_loop()
    accepted: list[asyncio.StreamWriter] = []
    async with _server() as server:
        real_port = int(server.url.split(":")[2].split("/")[0])

        async def front(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)
            if len(accepted) == 1:  # the first connection: a dead peer that never answers
                await reader.read()
                return
            up_reader, up_writer = await asyncio.open_connection("localhost", real_port)

            async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                while data := await src.read(65536):
                    dst.write(data)
                dst.close()

            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        relay = await asyncio.start_server(front, "localhost", 0)
        try:
            port = relay.sockets[0].getsockname()[1]
            url = server.url.replace(f":{real_port}/", f":{port}/")
            predial = PreDial.start(target_of(url))
            assert predial is not None
            await _opened(predial)
            started = loop.time()
            await _dial_and_close(url, predial)
            assert 0.3 <= loop.time() - started < ChannelOptions().open_timeout
        finally:
            for writer in accepted:
                writer.close()
            relay.close()
    assert len(accepted) == 2 and server.texts == [OPEN_TEXT]


def test_the_guess() -> None:
    emulator = "ws://127.0.0.1:4100/v1/data-channel/s-1?role=publish_subscribe"
    assert expected_target(emulator, None, "http://127.0.0.1:4000") == DialTarget(
        False, "127.0.0.1", 4100
    )
    assert expected_target(None, "eu-west-1", None) == DialTarget(
        True, "ssmmessages.eu-west-1.amazonaws.com", 443
    )
    assert expected_target(None, "cn-north-1", None) == DialTarget(
        True, "ssmmessages.cn-north-1.amazonaws.com.cn", 443
    )
    assert expected_target(None, "us-east-1", "http://127.0.0.1:4000") is None  # never seen
    assert expected_target(None, None, None) is None
    assert target_of("https://example.com/") is None


async def test_wss_dials_share_one_tls_context_made_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making a TLS context reads the CA bundle (tens of ms of CPU): once per process, in a
    worker thread, for pre-dials and plain dials (a reconnect) alike (``bridge.ssm.tls``)."""
    server_tls, client_tls = tls_contexts(tmp_path)
    made_on: list[threading.Thread] = []

    def made() -> ssl.SSLContext:
        made_on.append(threading.current_thread())
        return client_tls  # trusts the test server, as the system's bundle trusts AWS

    monkeypatch.setattr(tls._Shared, "context", None)
    monkeypatch.setattr(tls.ssl, "create_default_context", made)
    async with _server(server_tls) as server:
        predial = PreDial.start(target_of(server.url))
        assert predial is not None
        await _dial_and_close(server.url, predial)
        await _dial_and_close(server.url, None)  # asyncio's own context would not trust it
        await _dial_and_close(server.url, PreDial.start(target_of(server.url)))
    assert len(server.texts) == 3
    assert len(made_on) == 1 and made_on[0] is not threading.current_thread()
