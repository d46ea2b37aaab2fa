"""Client and server SmuxSession over real loopback TCP."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random

import pytest

from bridge.ssm.smux import SmuxIOConfig, SmuxSession
from bridge.ssm.smux_proto import (
    Cmd,
    Frame,
    FrameDecoder,
    SmuxConfig,
    SmuxProtocolError,
    SmuxSessionClosed,
    SmuxTimeout,
)

from .smux_helpers import SessionPair, TcpPair

MIB = 1024 * 1024


async def send_all(writer: asyncio.StreamWriter, data: bytes) -> None:
    for i in range(0, len(data), 50_000):  # uneven writes, drained like any careful writer
        writer.write(data[i : i + 50_000])
        await writer.drain()
    writer.write_eof()


async def read_hash(reader: asyncio.StreamReader) -> tuple[str, int]:
    digest, total = hashlib.sha256(), 0
    while chunk := await reader.read(65536):
        digest.update(chunk)
        total += len(chunk)
    return digest.hexdigest(), total


async def test_three_streams_4mib_each_way(session_pair: SessionPair) -> None:
    client, server = await session_pair()
    payloads_up = [os.urandom(4 * MIB) for _ in range(3)]
    payloads_down = [os.urandom(4 * MIB) for _ in range(3)]

    async def server_side() -> tuple[tuple[str, int], ...]:
        async def one() -> tuple[str, int]:
            reader, writer = await server.accept_stream()
            sid = writer.get_extra_info("smux_stream_id")
            up = payloads_up[(sid - 3) // 2]
            down = payloads_down[(sid - 3) // 2]
            got, _ = await asyncio.gather(read_hash(reader), send_all(writer, down))
            assert got == (hashlib.sha256(up).hexdigest(), len(up))
            writer.close()
            await writer.wait_closed()
            return got

        return await asyncio.gather(one(), one(), one())

    async def client_side(i: int) -> tuple[str, int]:
        reader, writer = await client.open_stream()
        assert writer.get_extra_info("smux_stream_id") == 3 + 2 * i
        got, _ = await asyncio.gather(read_hash(reader), send_all(writer, payloads_up[i]))
        writer.close()
        return got

    results = await asyncio.gather(server_side(), *(client_side(i) for i in range(3)))
    down_hashes = results[1:]
    for i, got in enumerate(down_hashes):
        assert got == (hashlib.sha256(payloads_down[i]).hexdigest(), 4 * MIB)
    await asyncio.sleep(0.05)
    assert client.stream_count == 0 and server.stream_count == 0


async def test_fin_propagates_as_eof_and_half_close_still_carries_data(
    session_pair: SessionPair,
) -> None:
    client, server = await session_pair()
    c_reader, c_writer = await client.open_stream()
    c_writer.write(b"request")
    c_writer.write_eof()  # FIN: the server sees EOF, but may still answer
    with pytest.raises(RuntimeError):
        c_writer.write(b"after eof")
    s_reader, s_writer = await server.accept_stream()
    assert await s_reader.read() == b"request"
    assert s_reader.at_eof()
    s_writer.write(b"answer")
    await s_writer.drain()
    s_writer.close()
    assert await c_reader.read() == b"answer"
    await asyncio.wait_for(c_writer.wait_closed(), 2)  # both FINs passed: the stream is done
    assert client.stream_count == 0


async def test_server_opens_even_streams(session_pair: SessionPair) -> None:
    client, server = await session_pair()
    _, s_writer = await server.open_stream()
    assert s_writer.get_extra_info("smux_stream_id") == 2
    s_writer.write(b"push")
    s_writer.close()
    c_reader, c_writer = await client.accept_stream()
    assert await c_reader.read() == b"push"
    c_writer.close()


async def test_session_close_ends_peer_streams_with_error(session_pair: SessionPair) -> None:
    client, server = await session_pair()
    c_reader, c_writer = await client.open_stream()
    c_writer.write(b"x")
    s_reader, _s_writer = await server.accept_stream()
    assert await s_reader.readexactly(1) == b"x"
    await server.close()
    # The server FINs its streams before closing the link: the client reads a clean EOF.
    assert await asyncio.wait_for(c_reader.read(), 2) == b""
    await asyncio.wait_for(client.wait_closed(), 2)
    assert isinstance(client.error, SmuxSessionClosed)
    with pytest.raises(SmuxSessionClosed):
        await client.open_stream()
    with pytest.raises(SmuxSessionClosed):
        await client.accept_stream()


async def test_link_loss_is_an_error_on_open_streams(tcp_pair: TcpPair) -> None:
    (cr, cw), (_, sw) = await tcp_pair()
    client = SmuxSession.over_streams(cr, cw, client=True)
    reader, _writer = await client.open_stream()
    sw.close()  # the peer vanishes without any FIN
    with pytest.raises(SmuxSessionClosed):
        await asyncio.wait_for(reader.read(), 2)
    await client.close()


async def test_protocol_error_closes_session(tcp_pair: TcpPair) -> None:
    (cr, cw), (sr, sw) = await tcp_pair()
    client = SmuxSession.over_streams(cr, cw, client=True)
    reader, _writer = await client.open_stream()
    sw.write(bytes.fromhex("01 04 0800 03000000") + bytes(8))  # UPD: not smux v1
    with pytest.raises(SmuxProtocolError):
        await asyncio.wait_for(reader.read(), 2)
    assert isinstance(client.error, SmuxProtocolError)
    assert await asyncio.wait_for(sr.read(), 2) == bytes.fromhex("01 00 0000 03000000")
    await client.close()
    sw.close()


async def test_slow_reader_bounds_memory_and_stalls_only_at_budget(tcp_pair: TcpPair) -> None:
    """A stream nobody reads holds at most the budget; the link is then left unread."""
    (cr, cw), (sr, sw) = await tcp_pair()
    budget = 256 * 1024
    server = SmuxSession.over_streams(
        sr,
        sw,
        client=False,
        config=SmuxConfig(max_receive_buffer=budget),
        io_config=SmuxIOConfig(stream_limit=16 * 1024),
    )
    client = SmuxSession.over_streams(cr, cw, client=True)
    # Keep every writer referenced: a collected StreamWriter closes its stream.
    _, slow_w = await client.open_stream()
    fast_r_c, fast_w_c = await client.open_stream()
    slow_r, _slow_w_s = await server.accept_stream()
    fast_r, fast_w = await server.accept_stream()

    # Below the budget, a stalled stream does not hold up another.
    slow_w.write(os.urandom(100 * 1024))
    await slow_w.drain()
    fast_w_c.write(b"ping")
    assert await asyncio.wait_for(fast_r.readexactly(4), 2) == b"ping"

    # Flood the slow stream: the writer is held back once the link stops being read.
    pushed = 100 * 1024
    flood = os.urandom(64 * 1024)

    async def flood_forever() -> None:
        nonlocal pushed
        while True:
            slow_w.write(flood)
            await slow_w.drain()
            pushed += len(flood)

    task = asyncio.create_task(flood_forever())
    # Back-pressure must reach the writer once kernel buffers (which autotune) are full too.
    stalled_at = -1
    for _ in range(50):
        if pushed == stalled_at:
            break
        stalled_at = pushed
        await asyncio.sleep(0.2)
    assert pushed == stalled_at, "the writer was never held back"
    in_reader = len(slow_r._buffer)  # type: ignore[attr-defined]
    held = in_reader + sum(map(len, server._streams[3].pending))
    assert held <= budget + 2 * 16 * 1024 + 64 * 1024
    assert not server._core.wants_input

    # Reading the slow stream drains everything in order and frees the others.
    task.cancel()
    got = 0
    while got < stalled_at:
        got += len(await asyncio.wait_for(slow_r.read(65536), 2))
    fast_w_c.write(b"pong")
    assert await asyncio.wait_for(fast_r.readexactly(4), 2) == b"pong"
    fast_w.close()
    assert await fast_r_c.read() == b""
    await client.close()
    await server.close()


class RawPeer:
    """A hand-driven smux peer on the far end of a TCP connection, for wire-level checks."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder()

    async def frames_for(self, seconds: float) -> list[tuple[float, Frame]]:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        seen: list[tuple[float, Frame]] = []
        while (left := end - loop.time()) > 0:
            try:
                data = await asyncio.wait_for(self.reader.read(4096), left)
            except TimeoutError:
                break
            if not data:
                break
            seen += [(loop.time(), f) for f in self.decoder.feed(data)]
        return seen


async def test_keepalive_sends_nops_at_the_interval(tcp_pair: TcpPair) -> None:
    (cr, cw), (sr, sw) = await tcp_pair()
    cfg = SmuxConfig(keepalive=True, keepalive_interval=0.1, keepalive_timeout=5.0)
    client = SmuxSession.over_streams(cr, cw, client=True, config=cfg)
    start = asyncio.get_running_loop().time()
    seen = await RawPeer(sr, sw).frames_for(0.55)
    assert {f for _, f in seen} == {Frame(Cmd.NOP, 0)}
    assert 4 <= len(seen) <= 5  # one per 0.1 s; a loaded machine may push the fifth past 0.55
    for i, (t, _) in enumerate(seen):  # never early, and on schedule (not drifting) after that
        assert 0.1 * (i + 1) - 0.01 <= t - start <= 0.1 * (i + 1) + 0.1
    await client.close()
    sw.close()


async def test_keepalive_off_by_default_sends_nothing(tcp_pair: TcpPair) -> None:
    (cr, cw), (sr, sw) = await tcp_pair()
    client = SmuxSession.over_streams(cr, cw, client=True)
    assert await RawPeer(sr, sw).frames_for(0.3) == []
    await client.close()
    sw.close()


async def test_keepalive_timeout_closes_a_silent_session(tcp_pair: TcpPair) -> None:
    (cr, cw), (sr, sw) = await tcp_pair()
    cfg = SmuxConfig(keepalive=True, keepalive_interval=0.05, keepalive_timeout=0.25)
    client = SmuxSession.over_streams(cr, cw, client=True, config=cfg)
    peer = RawPeer(sr, sw)
    reader, _writer = await client.open_stream()
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(3):  # the peer talks for a while: NOPs from it keep the session alive
        await asyncio.sleep(0.15)
        sw.write(Frame(Cmd.NOP, 0).encode())
    with pytest.raises(SmuxSessionClosed):
        await asyncio.wait_for(reader.read(), 2)
    elapsed = loop.time() - start
    assert 0.45 + 0.25 - 0.02 <= elapsed <= 0.45 + 0.25 + 0.2
    assert isinstance(client.error, SmuxTimeout)
    await peer.frames_for(0.01)
    await client.close()
    sw.close()


async def test_session_over_callables_with_ssm_sized_chunks(tcp_pair: TcpPair) -> None:
    """The byte-callable constructor, with every write cut into random pieces of at most 1024
    bytes (as SSM Output payloads cut smux frames), over real TCP."""
    (cr, cw), (sr, sw) = await tcp_pair()
    rng = random.Random(7)

    async def recv() -> bytes:
        return await cr.read(rng.randint(1, 1024))

    async def send(data: bytes) -> None:
        pos = 0
        while pos < len(data):
            n = rng.randint(1, 1024)
            cw.write(data[pos : pos + n])
            pos += n
            await cw.drain()

    async def close() -> None:
        cw.close()

    client = SmuxSession(recv, send, client=True, close=close)
    server = SmuxSession.over_streams(sr, sw, client=False)
    up, down = os.urandom(MIB), os.urandom(MIB)

    async def server_side() -> None:
        for _ in range(2):
            reader, writer = await server.accept_stream()
            got, _ = await asyncio.gather(reader.read(), send_all(writer, down))
            assert got == up
            writer.close()

    async def client_side() -> bytes:
        reader, writer = await client.open_stream()
        got, _ = await asyncio.gather(reader.read(), send_all(writer, up))
        writer.close()
        return got

    results = await asyncio.gather(server_side(), client_side(), client_side())
    assert results[1] == down and results[2] == down
    await client.close()
    await server.close()
