"""Per-message CPU of the SSM hot path, without a network: steadier than whole benches on a
loaded machine.

    python scripts/bench_ssm_micro.py [--json]

Process CPU (``time.process_time``), best of three rounds, in microseconds per message:
* ``receive_us``: websocket frames of one SSM message (1140 bytes, unmasked, as a server sends
  them) handed to a real client connection in 64 KiB reads that split frames, then taken by
  the channel's reader (``wsbatch.receiver_for``); ``receive_websockets_us`` the same through
  websockets' own ``recv()``, for comparison.
* ``core_download_us``: a ready client core receiving in-order 1024-byte data messages in
  batches of 56 (one socket read's worth), acks built and drained included.
* ``core_frame_us``: the core framing queued bytes into data messages (unthrottled).
* ``core_ack_us``: the core reading the acks of those messages, in batches of 56.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402

from bridge.ssm.client_core import ClientChannelCore  # noqa: E402
from bridge.ssm.codec import ClientMessage, encode  # noqa: E402
from bridge.ssm.core import CoreConfig, State  # noqa: E402
from bridge.ssm.wsbatch import frame_binary, message_buffered, receiver_for  # noqa: E402

MESSAGES = 8000
BATCH = 56  # 1140-byte frames in a 64 KiB read
_PORT_REQUEST = (
    b'{"AgentVersion":"3.3.1802.0","RequestedClientActions":[{"ActionType":"SessionType",'
    b'"ActionParameters":{"SessionType":"Port","Properties":{"portNumber":"22"}}}]}'
)
_COMPLETE = b'{"HandshakeTimeToComplete":1000000,"CustomerMessage":""}'


def _best(run: Callable[[], float]) -> float:
    return round(min(run() for _ in range(3)), 2)


def _frame(kind: str, seq: int, payload: bytes, payload_type: int = 1, flags: int = 0) -> bytes:
    message = ClientMessage(kind, seq, payload, payload_type, flags, created_date=1_700_000_000_000)
    return encode(message)


def _ack(seq: int) -> bytes:
    body = (
        '{"AcknowledgedMessageType":"input_stream_data","AcknowledgedMessageId":'
        f'"00000000-0000-4000-8000-000000000000","AcknowledgedMessageSequenceNumber":{seq},'
        '"IsSequentialMessage":true}'
    ).encode()
    return _frame("acknowledge", 0, body, 0, 3)


def _ready_client() -> ClientChannelCore:
    config = CoreConfig(
        rate_limit=None, send_window=1 << 20, send_span=1 << 20, send_buffer=1024 * MESSAGES
    )
    client = ClientChannelCore(0.0, config=config, epoch=1_700_000_000.0)
    client.receive(_frame("output_stream_data", 0, _PORT_REQUEST, 5, 1), 0.0)
    client.frames_to_send(0.0)
    client.receive(_frame("output_stream_data", 1, _COMPLETE, 7), 0.0)
    client.frames_to_send(0.0)
    client.receive(_ack(0), 0.05)
    assert client.state is State.READY
    client.events()
    return client


def _core_download() -> float:
    client = _ready_client()
    payload = bytes(range(256)) * 4
    frames = [_frame("output_stream_data", 2 + i, payload) for i in range(MESSAGES)]
    started = time.process_time()
    for at in range(0, MESSAGES, BATCH):
        client.receive_batch(frames[at : at + BATCH], 1.0)
        client.events()
        client.frames_to_send(1.0)
    return (time.process_time() - started) / MESSAGES * 1e6


def _core_upload() -> tuple[float, float]:
    client = _ready_client()
    assert client.send(bytes(1024 * MESSAGES), 1.0) == 1024 * MESSAGES
    sent = 0
    started = time.process_time()
    while sent < MESSAGES:
        sent += len(client.frames_to_send(1.0))
    framed = time.process_time() - started
    acks = [_ack(1 + i) for i in range(sent)]
    started = time.process_time()
    for at in range(0, len(acks), BATCH):
        client.receive_batch(acks[at : at + BATCH], 2.0)
    acked = time.process_time() - started
    return framed / sent * 1e6, acked / len(acks) * 1e6


async def _idle(ws: ServerConnection) -> None:
    await ws.wait_closed()


async def _receive(ours: bool) -> float:
    payloads = [bytes([i]) * 1140 for i in range(BATCH)]
    wire = frame_binary(payloads, mask=False)
    reads = [wire[at : at + 65536] for at in range(0, len(wire), 65536)]
    async with serve(_idle, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        async with connect(url, compression=None, max_size=16 << 20, max_queue=64) as ws:
            receiver = receiver_for(ws) if ours else None
            got = 0
            started = time.process_time()
            while got < MESSAGES:
                protocol = ws.transport.get_protocol()
                assert isinstance(protocol, asyncio.Protocol)
                for data in reads:
                    protocol.data_received(data)
                want = got + BATCH
                while got < want:
                    if receiver is not None:
                        got += len(await receiver.receive(64))
                    else:
                        got += await _recv_all(ws)
            return (time.process_time() - started) / got * 1e6


async def _recv_all(ws: ClientConnection) -> int:
    await ws.recv()
    count = 1
    while message_buffered(ws):
        await ws.recv()
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    uploads = [_core_upload() for _ in range(3)]
    result = {
        "receive_us": _best(lambda: asyncio.run(_receive(True))),
        "receive_websockets_us": _best(lambda: asyncio.run(_receive(False))),
        "core_download_us": _best(_core_download),
        "core_frame_us": round(min(u[0] for u in uploads), 2),
        "core_ack_us": round(min(u[1] for u in uploads), 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:24} {value:8.2f} us/message")


if __name__ == "__main__":
    main()
