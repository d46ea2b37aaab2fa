"""A TLS connection kept ready for the next cold dial to a ``wss`` endpoint
(``bridge.ssm.spare_dial``), against a real TLS websockets server: taken by the next dial
(its TCP connection carries the websocket, as the server saw by its port), replaced after each
use, redialled when the server closes it unless that happens too soon, dropped when the
endpoint goes unused; never for plain ``ws``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from bridge.ssm import tls
from bridge.ssm.dial import dial
from bridge.ssm.options import ChannelOptions
from bridge.ssm.predial import DialTarget, PreDial, target_of
from bridge.ssm.spare_dial import SpareDials
from bridge.testing.tls import tls_contexts

OPEN_TEXT = '{"MessageSchemaVersion": "1.0"}'
SOON = 0.05  # replace_after in these tests: the next spare opens at once, in loop terms


class Server:
    """Notes each websocket client's port."""

    def __init__(self) -> None:
        self.peers: list[int] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        self.peers.append(ws.remote_address[1])
        await ws.recv()
        await ws.close()


@asynccontextmanager
async def _server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, secure: bool = True, **kwargs: float
) -> AsyncIterator[Server]:
    """A websockets server (TLS unless ``secure`` is False) whose certificate the shared
    client context trusts, as the system's bundle trusts AWS's. ``kwargs``: serve()'s."""
    directory = tmp_path / ("wss" if secure else "ws")
    directory.mkdir()
    server_tls, client_tls = tls_contexts(directory)
    monkeypatch.setattr(tls._Shared, "context", client_tls)
    server = Server()
    scheme = "wss" if secure else "ws"
    async with serve(
        server.handler, "localhost", 0, ssl=server_tls if secure else None, compression=None,
        **kwargs,  # type: ignore[arg-type]
    ) as running:  # fmt: skip
        port = running.sockets[0].getsockname()[1]
        server.url = f"{scheme}://localhost:{port}/v1/data-channel/s-1?x=y"
        yield server


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait, on the loop, until ``condition`` holds (bounded; what happens is the servers')."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _handshaken(predial: PreDial) -> tuple[int, bool]:
    """The pre-dial's local port, and whether its TLS handshake is done, once it is open."""
    transport, _ = await predial._opening
    return transport.get_extra_info("sockname")[1], transport.get_extra_info(
        "ssl_object"
    ) is not None


def _target(server: Server) -> DialTarget:
    target = target_of(server.url)
    assert target is not None
    return target


def _dialled_once(spares: SpareDials, target: DialTarget) -> None:
    """A cold dial to ``target`` (its pre-dial given up) whose StreamUrl pointed there."""
    predial = spares.take(target)
    assert predial is not None
    spares.used(target)
    predial.close()


async def _spare_of(spares: SpareDials, target: DialTarget) -> tuple[PreDial, int]:
    """The spare ``target`` gets, once it is open; and its local port."""
    await _until(lambda: spares.spare(target) is not None)
    spare = spares.spare(target)
    assert spare is not None
    return spare, (await _handshaken(spare))[0]


async def _dial_and_close(url: str, predial: PreDial | None) -> None:
    ws = await dial(url, OPEN_TEXT, ChannelOptions(), predial)
    await ws.wait_closed()


async def test_the_next_dial_takes_the_spare_and_another_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _server(tmp_path, monkeypatch) as server:
        target = _target(server)
        spares = SpareDials(idle=60, replace_after=SOON)
        try:
            first = spares.take(target)  # a cold dial with nothing kept yet: a pre-dial
            assert first is not None and spares.spare(target) is None
            await asyncio.sleep(SOON * 2)
            assert spares.spare(target) is None  # a guess of where to dial is not a use
            spares.used(target)  # StartSession's StreamUrl points there
            await _dial_and_close(server.url, first)
            await _until(lambda: spares.spare(target) is not None)
            spare = spares.spare(target)
            assert spare is not None
            port, handshaken = await _handshaken(spare)
            assert handshaken  # TLS done before the next cold dial starts

            taken = spares.take(target)
            assert taken is spare and spares.spare(target) is None
            spares.used(target)
            await _dial_and_close(server.url, taken)
            assert server.peers[-1] == port  # the websocket rode the spare's connection
            await _until(lambda: spares.spare(target) is not None)
            assert spares.spare(target) is not spare
        finally:
            spares.close()
        assert len(server.peers) == 2


async def test_plain_ws_gets_no_spare_nor_does_a_disabled_keeper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TCP's round trip hides behind StartSession's: a ``ws`` endpoint is not worth a spare."""
    async with _server(tmp_path, monkeypatch, secure=False) as plain:
        spares = SpareDials(idle=60, replace_after=0)
        predial = spares.take(_target(plain))
        assert predial is not None
        spares.used(_target(plain))
        await _dial_and_close(plain.url, predial)
        await asyncio.sleep(0)  # the keeper's timers would have fired by now
        assert spares.spare(_target(plain)) is None and not spares._targets
    async with _server(tmp_path, monkeypatch) as secure:
        spares = SpareDials(idle=60, replace_after=0, enabled=False)
        predial = spares.take(_target(secure))
        assert predial is not None
        spares.used(_target(secure))
        predial.close()
        await asyncio.sleep(0)
        assert spares.spare(_target(secure)) is None and not spares._targets


@pytest.mark.parametrize("min_life", [0.0, 60.0])
async def test_a_spare_the_server_closes_is_redialled_unless_it_died_young(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, min_life: float
) -> None:
    """The server drops a connection that sends no request within its open timeout (the
    websockets library's: 10 s by default; 0.2 here). A spare that lived ``min_life`` is
    redialled; one that did not is not (a server that drops idle connections at once would
    otherwise be dialled in a loop)."""
    async with _server(tmp_path, monkeypatch, open_timeout=0.2) as server:
        target = _target(server)
        spares = SpareDials(idle=60, replace_after=0, min_life=min_life)
        try:
            _dialled_once(spares, target)
            spare, port = await _spare_of(spares, target)
            await _until(lambda: not spare.usable())  # the server closed it
            await asyncio.sleep(0)
            assert spares.closed_by_server == 1
            if min_life:
                assert spares.spare(target) is None and target in spares._targets
                assert target not in spares._lives
                return
            again = spares.spare(target)
            assert again is not None and again is not spare
            assert (await _handshaken(again))[0] != port
            assert spares.take(target) is again
        finally:
            spares.close()


async def test_spares_are_renewed_before_the_server_would_close_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the server closed a spare after a second, the next ones are replaced at 0.7 s
    (``RENEW``): no more are closed by it, and one is always open or opening."""
    async with _server(tmp_path, monkeypatch, open_timeout=1.0) as server:
        target = _target(server)
        spares = SpareDials(idle=60, replace_after=0, min_life=0.1)
        try:
            _dialled_once(spares, target)
            await _until(lambda: spares.closed_by_server == 1)
            assert 1.0 <= spares._lives[target] < 2.0
            learnt = spares.dialled
            await _until(lambda: spares.dialled >= learnt + 2)  # two renewals
            assert spares.closed_by_server == 1
            spare = spares.spare(target)
            assert spare is not None and spare.usable()
            assert spares.take(target) is spare and spares.taken == 1
            spare.close()
        finally:
            spares.close()


async def test_a_spare_is_replaced_at_its_max_age_and_not_used_after_a_sleep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that never closes idle connections still gets a fresh spare every
    ``max_age``; a spare born before the machine slept (the wall clock jumped past the
    monotonic one) is closed, not handed out."""
    wall = [1_000_000.0]
    async with _server(tmp_path, monkeypatch) as server:
        target = _target(server)
        spares = SpareDials(idle=60, replace_after=0, max_age=0.2, wall=lambda: wall[0])
        try:
            _dialled_once(spares, target)
            await _until(lambda: spares.dialled >= 3)  # renewed twice at its max age
            assert spares.closed_by_server == 0
            spare = spares.spare(target)
            assert spare is not None
            await _handshaken(spare)
            wall[0] += 3600  # an hour asleep: the loop's clock did not move
            taken = spares.take(target)
            assert taken is not None and taken is not spare
            assert not spare.usable() and spares.taken == 0
            await _dial_and_close(server.url, taken)  # a fresh connection instead
        finally:
            spares.close()


async def test_an_unused_endpoint_loses_its_spare_and_close_closes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _server(tmp_path, monkeypatch) as server:
        target = _target(server)
        spares = SpareDials(idle=0.3, replace_after=0)
        _dialled_once(spares, target)
        spare, _ = await _spare_of(spares, target)
        await _until(lambda: target not in spares._targets)  # idle: forgotten
        assert not spare.usable()

        spares = SpareDials(idle=60, replace_after=0)
        _dialled_once(spares, target)
        spare, _ = await _spare_of(spares, target)
        spares.close()
        assert not spare.usable()
        after = spares.take(target)  # still a pre-dial, but no more spares
        assert after is not None
        spares.used(target)
        after.close()
        await asyncio.sleep(0)
        assert not spares._targets
