"""The broker's small pure parts: the input meter, frame faults, version rules."""

from __future__ import annotations

from bridge.emulator.agent.faults import FaultPlan, FrameFaults
from bridge.emulator.agent.pacing import InputRateMeter
from bridge.emulator.agent.port import mux_supported, smux_keepalive
from bridge.ssm.codec import ClientMessage, MessageType, PayloadType, encode


def _frame(kind: str, seq: int = 0, payload_type: int = PayloadType.OUTPUT) -> bytes:
    message = ClientMessage(kind, seq, payload=b"x", payload_type=payload_type)
    return encode(message, now_ms=1)


def test_meter_counts_only_input_stream_data() -> None:
    assert InputRateMeter.counts(_frame(MessageType.INPUT_STREAM_DATA))
    assert not InputRateMeter.counts(_frame(MessageType.ACKNOWLEDGE))


def test_meter_pauses_above_limit_and_resumes_when_calm() -> None:
    meter = InputRateMeter(limit=1000, resume_below=500)
    pauses = [meter.record(i / 1001) for i in range(1001)]  # 1001 messages inside one second
    assert pauses.count(True) == 1 and pauses[-1]
    assert not meter.calmed(0.999)
    assert meter.calmed(2.5)  # the window emptied
    assert not meter.calmed(2.6)  # only once


def test_meter_tolerates_exactly_the_limit() -> None:
    meter = InputRateMeter(limit=1000)
    assert not any(meter.record(i / 999) for i in range(3000))  # just under 1000/s, 3 s


def test_faults_are_seeded_and_exempt_service_frames() -> None:
    plan = FaultPlan(drop_rate=0.2, duplicate_rate=0.2, reorder_rate=0.2, seed=7)
    frames = [_frame(MessageType.OUTPUT_STREAM_DATA, seq) for seq in range(200)]
    first = FrameFaults(plan, "s").apply(frames, "out")
    again = FrameFaults(plan, "s").apply(frames, "out")
    assert first == again
    assert len(set(first)) < len(frames) < len(first) + 60
    closing = [_frame(MessageType.CHANNEL_CLOSED)] * 50
    assert FrameFaults(plan, "s").apply(closing, "out") == closing


def test_withheld_handshake_complete_only() -> None:
    plan = FaultPlan(withhold_handshake_complete=True)
    pt7 = _frame(MessageType.OUTPUT_STREAM_DATA, 1, PayloadType.HANDSHAKE_COMPLETE)
    data = _frame(MessageType.OUTPUT_STREAM_DATA, 2)
    assert FrameFaults(plan, "s").apply([pt7, data], "out") == [data]


def test_version_rules() -> None:
    assert mux_supported("1.1.70") and mux_supported("1.2.677.0")
    assert not mux_supported("1.1.69.0") and not mux_supported("") and not mux_supported("x")
    assert smux_keepalive("1.2.331.0") and smux_keepalive("1.1.70.0")
    assert not smux_keepalive("1.2.332.0")
