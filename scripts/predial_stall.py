"""What a ``wss`` pre-dial costs the daemon's event loop before StartSession goes out.

On a cold connection the pool starts the websocket's pre-dial (``bridge.ssm.predial``) and
then submits StartSession to a worker thread; both run on the daemon's loop. With the
service's ``wss://`` StreamUrl the pre-dial needs a TLS context, and making one reads the CA
bundle. The emulator's StreamUrl is ``ws://``, so ``bench_ssh.py`` never shows it. Here a TLS
websocket server (a throwaway certificate, added to a copy of the system's CA bundle named by
``SSL_CERT_FILE``, as that bundle trusts AWS) stands in for ``ssmmessages``; per connection, in the pool's order: the
pre-dial is started, StartSession's worker-thread call is submitted (a stand-in that notes the
time it starts), the websocket is dialled on the pre-dial. Printed (ms, median of ``--runs``
after the first, and the first alone, a new daemon's): until the stand-in started, and the
loop's longest stall meanwhile.

    python scripts/predial_stall.py --runs 10 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import tempfile
import time
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

from bridge.ssm.dial import dial
from bridge.ssm.options import ChannelOptions
from bridge.ssm.predial import PreDial, target_of
from bridge.testing.tls import tls_contexts


async def _handler(ws: ServerConnection) -> None:
    await ws.recv()
    await ws.close()


async def _longest_stall(stop: asyncio.Event, worst: list[float]) -> None:
    """Ticks every 0.5 ms and notes the longest gap between ticks (the loop's stall)."""
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.0005)
        now = time.perf_counter()
        worst[0] = max(worst[0], now - last)
        last = now


async def _one(url: str) -> tuple[float, float]:
    target = target_of(url)
    assert target is not None
    stop, worst = asyncio.Event(), [0.0]
    ticker = asyncio.ensure_future(_longest_stall(stop, worst))
    await asyncio.sleep(0.002)
    started = time.perf_counter()
    predial = PreDial.start(target)  # as ChannelPool._open_new: the pre-dial first
    call = asyncio.ensure_future(asyncio.to_thread(time.perf_counter))  # then StartSession's
    sent = await call
    ws = await dial(url, "{}", ChannelOptions(), predial)
    stop.set()
    await ticker
    await ws.wait_closed()
    return (sent - started) * 1000, worst[0] * 1000


def _trusting_bundle(directory: Path) -> ssl.SSLContext:
    """A server context for localhost, its CA added to a copy of the system's CA
    bundle, which ``SSL_CERT_FILE`` then names (as that bundle trusts AWS)."""
    server_tls, _ = tls_contexts(directory)
    system = ssl.get_default_verify_paths().cafile
    bundle = directory / "bundle.pem"
    own = (directory / "ca.pem").read_bytes()  # the CA that signed the server certificate
    bundle.write_bytes((Path(system).read_bytes() if system else b"") + own)
    os.environ["SSL_CERT_FILE"] = str(bundle)
    return server_tls


async def _measure(server_tls: ssl.SSLContext, runs: int) -> dict[str, float]:
    async with serve(_handler, "localhost", 0, ssl=server_tls, compression=None) as server:
        url = f"wss://localhost:{server.sockets[0].getsockname()[1]}/v1/data-channel/s?x=y"
        results = [await _one(url) for _ in range(runs + 1)]
    first, rest = results[0], results[1:]
    return {
        "start_session_thread_after_ms": round(statistics.median(r[0] for r in rest), 2),
        "loop_stall_ms": round(statistics.median(r[1] for r in rest), 2),
        "first_start_session_thread_after_ms": round(first[0], 2),
        "first_loop_stall_ms": round(first[1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.runs <= 1000:
        parser.error("--runs must be in 1..1000")
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(_measure(_trusting_bundle(Path(tmp)), args.runs))
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
