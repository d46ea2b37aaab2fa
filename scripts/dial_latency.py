"""What opening the websocket's connection beside StartSession saves (``bridge.ssm.predial``).

Here a TLS websocket server (a throwaway certificate) sits behind a delay line
(``--latency-ms`` one way, TCP's handshake included: ``bridge/emulator/delay.py``);
StartSession is stood in for by a wait of one round trip. Timed, median of ``--runs``: from
"StartSession sent" to the websocket open, without and with the pre-dial. The pre-dial runs
TCP's and TLS's handshakes beside StartSession: TCP's hides behind it, TLS's does not (that is
what ``bridge/ssm/spare_dial.py`` is for; ``bench_ssh.py --latency-ms 40 --tls`` shows it).

    python scripts/dial_latency.py --latency-ms 40 --runs 10 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

from bridge.emulator.delay import DelayLine
from bridge.ssm.dial import dial
from bridge.ssm.options import ChannelOptions
from bridge.ssm.predial import PreDial, target_of
from bridge.testing.tls import tls_contexts


async def _handler(ws: ServerConnection) -> None:
    await ws.recv()
    await ws.close()


async def _measure(latency: float, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server_tls, client_tls = tls_contexts(Path(tmp))
        async with serve(_handler, "localhost", 0, ssl=server_tls, compression=None) as server:
            line = DelayLine("localhost", server.sockets[0].getsockname()[1], latency)
            await line.start()
            url = f"wss://localhost:{line.port}/v1/data-channel/s?x=y"
            target = target_of(url)
            assert target is not None
            figures: dict[str, list[float]] = {"without": [], "with": []}
            try:
                for _ in range(runs):
                    for case in figures:
                        start = time.perf_counter()
                        predial = (
                            PreDial(target, ssl_context=client_tls) if case == "with" else None
                        )
                        await asyncio.sleep(2 * latency)  # StartSession's round trip
                        if predial is None:  # today's dial: TCP, TLS, upgrade, from here
                            predial = PreDial(target, ssl_context=client_tls)
                        ws = await dial(url, "{}", ChannelOptions(), predial)
                        figures[case].append((time.perf_counter() - start) * 1000)
                        await ws.wait_closed()
            finally:
                await line.stop()
    return {
        "latency_ms": latency * 1000,
        "start_session_to_open_ms_without": round(statistics.median(figures["without"]), 1),
        "start_session_to_open_ms_with": round(statistics.median(figures["with"]), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 < args.latency_ms <= 10000 or args.runs < 1:
        parser.error("--latency-ms must be in (0, 10000] and --runs positive")
    figures = asyncio.run(_measure(args.latency_ms / 1000, args.runs))
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
