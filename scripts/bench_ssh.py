"""scripts/bench ssh [--json] [--runs N]: what ssh through smconnect costs, against the floor.

Figures (medians over --runs):
  ssh_true_ms_proxy     `ssh sm-demo true` through the ProxyCommand, daemon and data channel
  ssh_true_ms_direct    `ssh` straight to the space's SSH server (a plain TCP->unix-socket copy
                        in this process stands in for the network): the floor
  proxy_startup_ms      `smconnect proxy` process start to exit on an argument error: the
                        interpreter plus every import the relay makes
  python_startup_ms     `python -c pass` with the same interpreter, for reference
  proxy_own_startup_ms  proxy_startup_ms - python_startup_ms: what the relay itself adds
  echo_rtt_ms_proxy     one line echoed by `cat` in the space, round trip, through smconnect
  echo_rtt_ms_direct    the same straight to the space's SSH server
  daemon_rss_mb         the daemon's resident memory with 10 ssh sessions open
The emulator runs unthrottled so the figures show smconnect's own costs, not the SSM ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bridge.emulator import start_in_thread
from bridge.emulator.config import DelaysConfig, default_config
from bridge.testing.sandbox import FAST_DAEMON, VENV_BIN, Sandbox


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 2)


def _run(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
    if done.returncode not in ok:
        raise SystemExit(
            f"bench: {' '.join(argv[:4])}... failed ({done.returncode}): {done.stderr[-400:]!r}"
        )


class UnixForwarder:
    """127.0.0.1:<port> -> a unix socket, on its own thread: the 'direct' path to the space."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            finally:
                writer.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            up_reader, up_writer = await asyncio.open_unix_connection(self.path)
            await asyncio.gather(
                pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
            )

        async def start() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()


def _echo_rtt_ms(argv: list[str], env: dict[str, str], rounds: int) -> float:
    proc = subprocess.Popen(
        argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    fd = proc.stdout.fileno()
    samples = []
    try:
        for i in range(rounds + 3):
            line = f"ping {i}\n".encode()
            start = time.perf_counter()
            proc.stdin.write(line)
            proc.stdin.flush()
            got = b""
            while not got.endswith(b"\n"):
                ready, _, _ = select.select([fd], [], [], 30)
                if not ready:
                    raise SystemExit("bench: no echo within 30 s")
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise SystemExit(f"bench: echo session ended: {proc.stderr.read()!r}")  # type: ignore[union-attr]
                got += chunk
            if i >= 3:  # the first rounds include session set-up
                samples.append((time.perf_counter() - start) * 1000)
    finally:
        proc.kill()
        proc.wait()
    return round(statistics.median(samples), 2)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise SystemExit("bench: no VmRSS for the daemon")


def measure(runs: int) -> dict[str, float]:
    config = dataclasses.replace(
        default_config(),
        pacing="unthrottled",
        delays=DelaysConfig(
            app_start=0.2, app_stop=0.1, space_update=0.1, start_session_failure_window=0.1
        ),
    )
    with (
        tempfile.TemporaryDirectory(prefix="smconnect-bench-") as tmp,
        start_in_thread(config) as emulator,
    ):
        box = Sandbox.create(
            Path(tmp) / "home",
            emulator.env,
            extra=FAST_DAEMON,
        )
        try:
            box.call("space.open", {"space": "demo", "endpoint_url": emulator.endpoint_url})
            env = box.env

            apps = emulator.emulator.plane.account.apps.values()
            runtime = next(a.runtime for a in apps if a.space_name == "demo" and a.runtime)
            direct = UnixForwarder(str(runtime.resolve("localhost", 22)))
            direct_argv = [
                "ssh", "-F", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-p", str(direct.port), "sagemaker-user@127.0.0.1",
            ]  # fmt: skip

            _run(box.ssh_argv("sm-demo", "true"), env)  # warm the host key and the daemon
            figures: dict[str, float] = {
                "ssh_true_ms_proxy": _median_ms(
                    lambda: _run(box.ssh_argv("sm-demo", "true"), env), runs
                ),
                "ssh_true_ms_direct": _median_ms(lambda: _run([*direct_argv, "true"], env), runs),
            }
            proxy = [str(VENV_BIN / "smconnect"), "proxy", "--bogus-option"]
            figures["proxy_startup_ms"] = _median_ms(lambda: _run(proxy, env, ok=(2,)), runs * 2)
            figures["python_startup_ms"] = _median_ms(
                lambda: _run([sys.executable, "-c", "pass"], env), runs * 2
            )
            figures["proxy_own_startup_ms"] = round(
                figures["proxy_startup_ms"] - figures["python_startup_ms"], 2
            )
            figures["echo_rtt_ms_proxy"] = _echo_rtt_ms(box.ssh_argv("sm-demo", "cat"), env, 50)
            figures["echo_rtt_ms_direct"] = _echo_rtt_ms([*direct_argv, "cat"], env, 50)

            sessions = [
                subprocess.Popen(
                    box.ssh_argv("sm-demo", "sleep 60"), env=env, stdin=subprocess.DEVNULL
                )
                for _ in range(10)
            ]
            try:
                deadline = time.monotonic() + 60
                while len(box.call("sessions.status")["sessions"]) < 10:
                    if time.monotonic() > deadline:
                        raise SystemExit("bench: 10 sessions did not open within 60 s")
                    time.sleep(0.2)
                daemon_pid = int(box.call("daemon.status")["pid"])
                figures["daemon_rss_mb"] = _rss_mb(daemon_pid)
            finally:
                for proc in sessions:
                    proc.kill()
                    proc.wait()
            return figures
        finally:
            box.stop_daemon()


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench ssh", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    figures = measure(args.runs)
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:22} {value:10.2f}")


if __name__ == "__main__":
    main()
