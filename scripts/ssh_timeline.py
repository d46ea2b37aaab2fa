"""Where a cold ``ssh sm-demo true`` spends its time on a long link, round trip by round trip.

The emulator runs with ``--latency-ms`` (default 40, one way); a daemon with warm channels
off and debug logging; a direct ssh through a TCP delay line of the same delay is the floor.
Each connection is timed alone (1.5 s of settling before it), then printed as one timeline
in ms from ssh's start: ssh's own milestones (``ssh -v``) merged with the daemon's (its log),
cold and direct alternated ``--runs`` times.

    python scripts/ssh_timeline.py --latency-ms 40 --runs 3 [--fresh] [--new-daemon] [--tls]

``--fresh``: no description reuse (every connection describes the space, with StartSession
beside it); ``--new-daemon``: each cold connection is the first of a daemon started just before
(implies ``--fresh``); ``--tls``: the emulator serves HTTPS and ``wss://`` (each new connection
to it then shows as ``Starting new HTTPS connection``). Reading it: docs/design/efficiency.md, "Cold: where the time goes".
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import subprocess
import tempfile
import time
from pathlib import Path

from bench_ssh import _bench_config, _direct_argv, _direct_port

from bridge.emulator import start_in_thread
from bridge.emulator.delay import DelayLine
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

SSH_MARKS = (  # ssh -v lines worth a row: each later one is a round trip of SSH's exchange
    "Executing proxy",
    "Connection established",
    "Local version string",
    "KEXINIT received",
    "ECDH_REPLY received",
    "SERVICE_ACCEPT received",
    "Authenticated to",
    "Sending command",
    "exit-status",
)
DAEMON_MARKS = (
    ": proxy.open",
    "Starting new HTTP",  # urllib3: a new connection (with --tls, its TLS handshake follows)
    "Sending http request",
    'HTTP/1.1" 200',
    "upgrading the connection",
    "dialling",
    "connection is OPEN",
    "handshake:",
    "opened ssh channel",
    "handed over",
)


def _ssh(argv: list[str], env: dict[str, str]) -> tuple[float, list[tuple[float, str]]]:
    start = time.time()
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    rows = [(time.time(), line.strip()) for line in proc.stderr]
    if proc.wait() != 0:
        raise SystemExit(f"timeline: {argv[:4]}... failed: {rows[-3:]}")
    rows.append((time.time(), "ssh exited"))
    return start, [(t, f"ssh     {line[:90]}") for t, line in rows if _marked(line)]


def _marked(line: str) -> bool:
    return line == "ssh exited" or any(mark in line for mark in SSH_MARKS)


def _daemon_rows(log: Path, start: float, end: float) -> list[tuple[float, str]]:
    rows = []
    for line in log.read_text(errors="replace").splitlines():
        stamp, _, rest = line.partition(" ")
        try:
            when = datetime.datetime.fromisoformat(stamp.rstrip("Z")).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
        t = when.timestamp()
        if start <= t <= end and any(mark in rest for mark in DAEMON_MARKS):
            rows.append((t, f"daemon  {rest.split(']', 1)[-1].strip()[:90]}"))
    return rows


def _print(title: str, start: float, rows: list[tuple[float, str]]) -> None:
    print(f"== {title}")
    for t, text in sorted(rows):
        print(f"{(t - start) * 1000:8.1f}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="no description reuse")
    parser.add_argument("--new-daemon", action="store_true", help="a new daemon per connection")
    parser.add_argument("--tls", action="store_true", help="the emulator serves HTTPS and wss://")
    args = parser.parse_args()
    if not 0 < args.latency_ms <= 10000 or not 0 < args.runs <= 100:
        parser.error("--latency-ms must be in (0, 10000] and --runs in 1..100")
    config = dataclasses.replace(
        _bench_config("unthrottled", tls=args.tls), latency_ms=args.latency_ms
    )
    with tempfile.TemporaryDirectory() as tmp, start_in_thread(config) as emulator:
        extra = {
            **FAST_DAEMON,
            "SMCONNECT_WARM_CHANNELS": "off",
            "SMCONNECT_DESCRIPTION_REUSE_SECONDS": "0" if args.fresh or args.new_daemon else "10",
            "SMCONNECT_LOG_LEVEL": "debug",
        }
        box = Sandbox.create(Path(tmp) / "home", emulator.env, extra=extra)
        box.call("space.open", {"space": "demo", "endpoint_url": emulator.endpoint_url})
        line = DelayLine("127.0.0.1", _direct_port(emulator), args.latency_ms / 1000.0)
        emulator.call(line.start)
        direct = _direct_argv(line.port)
        direct_v = [direct[0], "-v", *direct[1:], "true"]
        try:
            subprocess.run(direct_v, env=box.env, capture_output=True, check=True)
            subprocess.run(box.ssh_argv("sm-demo", "true"), env=box.env, capture_output=True)
            for run in range(args.runs):
                if args.new_daemon:
                    box.stop_daemon()
                    box.call("sessions.status")  # started, nothing learnt in its memory
                time.sleep(1.5)
                start, rows = _ssh(box.ssh_argv("-v", "sm-demo", "true"), box.env)
                end = rows[-1][0]
                rows += _daemon_rows(box.state_dir / "daemon.log", start, end)
                _print(f"cold {run + 1}: {(end - start) * 1000:.0f} ms", start, rows)
                time.sleep(1.5)
                start, rows = _ssh(direct_v, box.env)
                _print(f"direct {run + 1}: {(rows[-1][0] - start) * 1000:.0f} ms", start, rows)
        finally:
            emulator.call(line.stop)
            box.stop_daemon()


if __name__ == "__main__":
    main()
