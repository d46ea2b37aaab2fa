"""Data-channel benchmark: bulk transfers through the emulator's SessionBroker.

    scripts/bench channel [--json] [--unthrottled-mib 64] [--realistic-mb 8]

The broker, its agent cores and the targets run in a child process (``--agent``, driven by
JSON lines on stdin/stdout), so ``time.process_time()`` of this process is the client's CPU
alone: the transport, the core, websockets and the stream plumbing. The payload is a
pre-generated random block repeated, so generating and checking data costs ~nothing here.

Figures (MB = 10**6 bytes, MiB = 2**20):
* ``unthrottled_upload_mbps`` / ``unthrottled_download_mbps``: one direction at a time, no
  pacing on either side; ``unthrottled_mbps`` is the lower of the two.
* ``realistic_upload_mbps`` / ``realistic_download_mbps``: the broker paces its output at
  990 messages/s and sends pause_publication above 1000 client messages/s; the client paces
  itself with the default CoreConfig. The ceiling is ~1 MB/s (1000 x 1024 B); the target is
  90 % of it, 0.92 MB/s, each way.
* ``cpu_s_per_mib``: client CPU seconds per MiB moved in the unthrottled runs (both
  directions together); ``realistic_cpu_s_per_mib`` likewise for the realistic runs.
* ``pause_publication_sent``: pause_publication frames the broker sent (must be 0).

Upload is timed from the first byte written until the target reports it has every byte (a
one-byte receipt on the stream); download from the first write until the last byte is read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BLOCK = os.urandom(1 << 20)
RECEIPT = b"."
REALISTIC_TARGET_MBPS = 0.92


# ---- the child: broker + targets ----------------------------------------------------------


async def _source_sink(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upload: int, download: int
) -> None:
    """Send ``download`` bytes while reading ``upload`` bytes, then a receipt, then hang up."""

    async def send() -> None:
        left = download
        while left:
            chunk = BLOCK[: min(left, len(BLOCK))]
            writer.write(chunk)
            await writer.drain()
            left -= len(chunk)

    sender = asyncio.create_task(send())
    got = 0
    while got < upload:
        data = await reader.read(1 << 16)
        if not data:
            break
        got += len(data)
    await sender
    writer.write(RECEIPT)
    await writer.drain()
    writer.close()


async def _agent_main() -> None:
    from bridge.emulator.agent import SessionBroker, SessionTarget

    tmp = Path(tempfile.mkdtemp(prefix="bench-channel-"))
    brokers = {pacing: SessionBroker(pacing=pacing) for pacing in ("realistic", "unthrottled")}
    for broker in brokers.values():
        await broker.start()
    servers: list[asyncio.Server] = []
    owner: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        cmd = json.loads(line)
        if cmd["cmd"] == "session":
            path = str(tmp / f"target-{len(servers)}.sock")
            up, down = int(cmd["upload"]), int(cmd["download"])

            async def handle(
                r: asyncio.StreamReader, w: asyncio.StreamWriter, up: int = up, down: int = down
            ) -> None:
                await _source_sink(r, w, up, down)

            servers.append(await asyncio.start_unix_server(handle, path))
            grant = brokers[cmd["pacing"]].create_session(
                SessionTarget(resolve=lambda _h, _p, path=path: path)
            )
            owner[grant.session_id] = cmd["pacing"]
            reply(
                {
                    "session_id": grant.session_id,
                    "token": grant.token_value,
                    "url": grant.stream_url,
                }
            )
        elif cmd["cmd"] == "resume":
            token = brokers[owner[cmd["session_id"]]].resume_session(cmd["session_id"])
            reply({"token": token})
        elif cmd["cmd"] == "stats":
            session = brokers[owner[cmd["session_id"]]].sessions[cmd["session_id"]]
            reply(
                {
                    "pauses_sent": session.stats.pauses_sent,
                    "input_messages": session.stats.input_messages,
                    "agent_retransmissions": session.core_stats.retransmissions,
                }
            )
    for broker in brokers.values():
        await broker.stop()


# ---- the parent: the client under test ----------------------------------------------------


class Agent:
    """The child process, spoken to in JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls) -> Agent:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--agent",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def call(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        async with self._lock:
            self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
            await self.proc.stdin.drain()
            line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the agent process died")
        result: dict[str, Any] = json.loads(line)
        return result

    async def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def _transfer(agent: Agent, pacing: str, upload: int, download: int) -> dict[str, Any]:
    from bridge.ssm.core import CoreConfig
    from bridge.ssm.transport import open_channel

    grant = await agent.call(cmd="session", pacing=pacing, upload=upload, download=download)

    async def resume() -> str:
        return str((await agent.call(cmd="resume", session_id=grant["session_id"]))["token"])

    config = CoreConfig(rate_limit=None) if pacing == "unthrottled" else CoreConfig()
    channel = await open_channel(grant["url"], grant["token"], resume=resume, config=config)
    await channel.wait_ready()
    reader, writer = channel.streams()
    usage0, cpu0, t0 = (
        resource.getrusage(resource.RUSAGE_SELF),
        time.process_time(),
        time.perf_counter(),
    )

    async def send() -> None:
        left = upload
        while left:
            chunk = BLOCK[: min(left, len(BLOCK))]
            writer.write(chunk)
            await writer.drain()
            left -= len(chunk)

    sender = asyncio.create_task(send())
    got = 0
    while got < download:
        data = await reader.read(min(1 << 16, download - got))
        if not data:
            raise RuntimeError(f"channel ended after {got} of {download} bytes")
        got += len(data)
    t_down = time.perf_counter()
    await sender
    receipt = await reader.readexactly(len(RECEIPT))
    t_up = time.perf_counter()
    cpu = time.process_time() - cpu0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    assert receipt == RECEIPT
    stats = channel.stats
    await channel.close()
    agent_stats = await agent.call(cmd="stats", session_id=grant["session_id"])
    return {
        "upload_s": t_up - t0,
        "download_s": t_down - t0,
        "cpu_s": cpu,
        "sys_s": usage.ru_stime - usage0.ru_stime,
        "bytes": upload + download,
        "retransmissions": stats.retransmissions,
        "pauses_received": stats.pauses_received,
        **agent_stats,
    }


async def _bench(unthrottled_bytes: int, realistic_bytes: int) -> dict[str, Any]:
    agent = await Agent.start()
    try:
        runs = {
            "unthrottled_upload": await _transfer(agent, "unthrottled", unthrottled_bytes, 0),
            "unthrottled_download": await _transfer(agent, "unthrottled", 0, unthrottled_bytes),
            "realistic_upload": await _transfer(agent, "realistic", realistic_bytes, 0),
            "realistic_download": await _transfer(agent, "realistic", 0, realistic_bytes),
        }
    finally:
        await agent.stop()

    def mbps(run: str, size: int, key: str) -> float:
        return round(size / runs[run][key] / 1e6, 3)

    def cpu_per_mib(*names: str, key: str = "cpu_s") -> float:
        cpu = sum(runs[n][key] for n in names)
        moved = sum(runs[n]["bytes"] for n in names)
        return round(cpu / (moved / (1 << 20)), 5)

    up = mbps("unthrottled_upload", unthrottled_bytes, "upload_s")
    down = mbps("unthrottled_download", unthrottled_bytes, "download_s")
    r_up = mbps("realistic_upload", realistic_bytes, "upload_s")
    r_down = mbps("realistic_download", realistic_bytes, "download_s")
    return {
        "unthrottled_mbps": min(up, down),
        "unthrottled_upload_mbps": up,
        "unthrottled_download_mbps": down,
        "realistic_upload_mbps": r_up,
        "realistic_download_mbps": r_down,
        "realistic_target_mbps": REALISTIC_TARGET_MBPS,
        "realistic_ok": r_up >= REALISTIC_TARGET_MBPS and r_down >= REALISTIC_TARGET_MBPS,
        "cpu_s_per_mib": cpu_per_mib("unthrottled_upload", "unthrottled_download"),
        "realistic_cpu_s_per_mib": cpu_per_mib("realistic_upload", "realistic_download"),
        "cpu_sys_s_per_mib": cpu_per_mib("unthrottled_upload", "unthrottled_download", key="sys_s"),
        "realistic_cpu_sys_s_per_mib": cpu_per_mib(
            "realistic_upload", "realistic_download", key="sys_s"
        ),
        "pause_publication_sent": sum(r["pauses_sent"] for r in runs.values()),
        "pause_publication_received": sum(r["pauses_received"] for r in runs.values()),
        "client_retransmissions": sum(r["retransmissions"] for r in runs.values()),
        "agent_retransmissions": sum(r["agent_retransmissions"] for r in runs.values()),
        "unthrottled_bytes": unthrottled_bytes,
        "realistic_bytes": realistic_bytes,
        "cpu_accounting": "client process only (broker and targets in a child process)",
        "runs": {
            name: {key: round(value, 4) for key, value in run.items()} for name, run in runs.items()
        },
    }


def _table(result: dict[str, Any]) -> str:
    rows = [
        ("unthrottled upload", f"{result['unthrottled_upload_mbps']:.2f} MB/s"),
        ("unthrottled download", f"{result['unthrottled_download_mbps']:.2f} MB/s"),
        ("realistic upload", f"{result['realistic_upload_mbps']:.3f} MB/s"),
        ("realistic download", f"{result['realistic_download_mbps']:.3f} MB/s"),
        (
            "realistic target",
            f">= {REALISTIC_TARGET_MBPS} MB/s each way: "
            + ("met" if result["realistic_ok"] else "NOT met"),
        ),
        (
            "client CPU (unthrottled)",
            f"{result['cpu_s_per_mib'] * 1000:.1f} ms/MiB"
            f" (kernel {result['cpu_sys_s_per_mib'] * 1000:.1f})",
        ),
        (
            "client CPU (realistic)",
            f"{result['realistic_cpu_s_per_mib'] * 1000:.1f} ms/MiB"
            f" (kernel {result['realistic_cpu_sys_s_per_mib'] * 1000:.1f})",
        ),
        ("pause_publication sent", str(result["pause_publication_sent"])),
        (
            "retransmissions client/agent",
            f"{result['client_retransmissions']}/{result['agent_retransmissions']}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--unthrottled-mib", type=int, default=64)
    parser.add_argument("--realistic-mb", type=float, default=8.0)
    parser.add_argument("--agent", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agent:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_agent_main())
        return
    result = asyncio.run(_bench(args.unthrottled_mib << 20, int(args.realistic_mb * 1e6)))
    print(json.dumps(result) if args.json else _table(result))


if __name__ == "__main__":
    main()
