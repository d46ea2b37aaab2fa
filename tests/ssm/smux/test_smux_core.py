"""The sans-I/O session core: stream ids, FIN bookkeeping, the receive budget, keepalive timing."""

from __future__ import annotations

import pytest

from bridge.ssm.smux_proto import (
    Cmd,
    Frame,
    FrameDecoder,
    SessionClosed,
    SmuxConfig,
    SmuxCore,
    SmuxError,
    SmuxGoAway,
    SmuxProtocolError,
    SmuxSessionClosed,
    SmuxTimeout,
    StreamData,
    StreamFinished,
    StreamOpened,
)


def sent(core: SmuxCore) -> list[Frame]:
    return FrameDecoder().feed(core.frames_to_send())


def test_client_ids_are_3_5_7_and_syn_is_golden() -> None:
    core = SmuxCore(client=True)
    assert [core.open_stream() for _ in range(3)] == [3, 5, 7]
    wire = core.frames_to_send()
    assert wire[:8] == bytes.fromhex("01 00 0000 03000000")
    assert FrameDecoder().feed(wire) == [Frame(Cmd.SYN, 3), Frame(Cmd.SYN, 5), Frame(Cmd.SYN, 7)]


def test_server_ids_are_even() -> None:
    core = SmuxCore(client=False)
    assert [core.open_stream() for _ in range(2)] == [2, 4]


def test_psh_split_at_max_frame_size() -> None:
    core = SmuxCore(client=True)
    sid = core.open_stream()
    core.frames_to_send()
    core.send(sid, bytes(32768 * 2 + 10))
    assert [len(f.data) for f in sent(core)] == [32768, 32768, 10]


def test_client_server_exchange_and_forget_after_both_fins() -> None:
    client, server = SmuxCore(client=True), SmuxCore(client=False)
    sid = client.open_stream()
    client.send(sid, b"hi")
    client.finish(sid)
    server.receive(client.frames_to_send(), 0.0)
    assert server.events() == [StreamOpened(3), StreamData(3, b"hi"), StreamFinished(3)]
    assert server.wants_input
    server.send(sid, b"yo")
    server.finish(sid)
    assert 3 in server.stream_ids  # "hi" not yet released
    server.release(sid, 2)
    assert server.stream_ids == frozenset()
    client.receive(server.frames_to_send(), 0.0)
    assert client.events() == [StreamData(3, b"yo"), StreamFinished(3)]
    client.release(sid, 2)
    assert client.stream_ids == frozenset()


def test_unknown_stream_frames_are_dropped_and_fin_is_idempotent() -> None:
    server = SmuxCore(client=False)
    server.receive(Frame(Cmd.PSH, 9, b"x").encode() + Frame(Cmd.FIN, 9).encode(), 0.0)
    assert server.events() == []
    server.receive(Frame(Cmd.SYN, 3).encode() * 2, 0.0)  # duplicate SYN ignored
    assert server.events() == [StreamOpened(3)]
    server.finish(3)
    server.finish(3)
    assert sent(server) == [Frame(Cmd.FIN, 3)]
    with pytest.raises(SmuxError):
        server.send(3, b"after fin")


def test_receive_budget_stops_input_until_release() -> None:
    server = SmuxCore(client=False, config=SmuxConfig(max_receive_buffer=1000))
    server.receive(Frame(Cmd.SYN, 3).encode() + Frame(Cmd.PSH, 3, bytes(1000)).encode(), 0.0)
    assert not server.wants_input
    server.release(3, 600)
    assert server.wants_input
    server.close_stream(3)  # closing returns the rest of the stream's budget
    assert server.wants_input
    assert sent(server) == [Frame(Cmd.FIN, 3)]


def test_protocol_error_ends_session_with_event() -> None:
    core = SmuxCore(client=True)
    core.receive(bytes.fromhex("07 00 0000 00000000"), 0.0)
    events = core.events()
    assert len(events) == 1 and isinstance(events[0], SessionClosed)
    assert isinstance(events[0].error, SmuxProtocolError)
    assert core.closed and not core.wants_input
    with pytest.raises(SmuxSessionClosed):
        core.open_stream()


def test_keepalive_off_by_default() -> None:
    core = SmuxCore(client=True)
    assert core.next_deadline() is None
    core.tick(1000.0)
    assert core.frames_to_send() == b"" and core.events() == []


def test_keepalive_nops_and_timeout() -> None:
    cfg = SmuxConfig(keepalive=True, keepalive_interval=10.0, keepalive_timeout=30.0)
    core = SmuxCore(client=True, config=cfg, now=100.0)
    assert core.next_deadline() == 110.0
    core.tick(110.0)
    assert core.frames_to_send() == bytes.fromhex("01 03 0000 00000000")
    core.receive(Frame(Cmd.NOP, 0).encode(), 115.0)  # traffic pushes the timeout to 145
    core.tick(120.0)
    core.tick(130.0)
    core.tick(140.0)
    assert sent(core) == [Frame(Cmd.NOP, 0)] * 3
    assert core.next_deadline() == 145.0
    core.tick(145.0)
    (event,) = core.events()
    assert isinstance(event, SessionClosed) and isinstance(event.error, SmuxTimeout)
    assert core.next_deadline() is None


def test_keepalive_does_not_time_out_while_input_is_paused() -> None:
    cfg = SmuxConfig(
        keepalive=True, keepalive_interval=1.0, keepalive_timeout=3.0, max_receive_buffer=10
    )
    core = SmuxCore(client=False, config=cfg, now=0.0)
    core.receive(Frame(Cmd.SYN, 3).encode() + Frame(Cmd.PSH, 3, bytes(10)).encode(), 0.0)
    for t in range(1, 10):
        core.tick(float(t))
    assert not core.closed
    core.release(3, 10)
    core.tick(11.0)
    assert not core.closed
    core.tick(12.0)
    assert core.closed


def test_stream_ids_exhaust_with_go_away() -> None:
    core = SmuxCore(client=True)
    core._next_sid = 2**32 - 5  # white-box: skip two billion opens
    assert core.open_stream() == 2**32 - 3
    assert core.open_stream() == 2**32 - 1
    with pytest.raises(SmuxGoAway):
        core.open_stream()
