"""scripts/bench ssh [--json] [--runs N] [--latency-ms N]: what ssh through smconnect costs,
against the floor. With --latency-ms N: the figures of scripts/ssh_latency.py instead (a new
connection's time on a link with N ms one way: cold, warm and direct).

Figures (medians over --runs):
  ssh_true_ms_proxy     `ssh sm-demo true` through the ProxyCommand, daemon and data channel
  ssh_true_ms_direct    `ssh` straight to the space's SSH server (a plain TCP->unix-socket copy
                        in this process stands in for the network): the floor
  proxy_startup_ms      the ProxyCommand our ssh config runs (`python -I -S .../proxy_start.py
                        proxy`), process start to exit on an argument error: the
                        interpreter plus every import the relay makes
  python_startup_ms     `python -c pass` with the same interpreter and flags, for reference
  proxy_own_startup_ms  proxy_startup_ms - python_startup_ms: what the relay itself adds
                        (an argument error imports nothing lazy: a lower bound since issue 11)
  proxy_fdpass_ms       the ProxyCommand on the descriptor path, as ssh runs it (stdout a unix
                        socket), start to exit: ask the daemon, receive the descriptor, pass it
                        on. ssh waits for this exit before its own handshake
  proxy_fdpass_cpu_ms   that process's CPU (user + system)
  ssh_true_cpu_ms_proxy `ssh sm-demo true`: CPU of ssh and the ProxyCommand together
  ssh_true_cpu_ms_direct the same for the direct ssh (ssh alone): the floor
  echo_rtt_ms_proxy     one line echoed by `cat` in the space, round trip, through smconnect
  echo_rtt_ms_direct    the same straight to the space's SSH server
  daemon_rss_mb         the daemon's resident memory with 10 ssh sessions open
The emulator runs unthrottled so the figures show smconnect's own costs, not the SSM ceiling.

CPU per MiB, under the realistic SSM pacing (a second emulator; --pacing unthrottled for none),
--cpu-mib MiB each way:
  cpu_s_per_mib_up/_down          the whole path: ssh + `smconnect proxy` + the daemon's CPU
                                  seconds per MiB, on the default path (descriptor passing)
  cpu_s_per_mib_up/_down_relay    the same with `-o ProxyUseFdpass=no` (the proxy relays)
  cpu_s_per_mib_up/_down_direct   a direct ssh to the space's SSH server (ssh alone): the floor
  client_cpu_s_per_mib_*          the ssh + proxy share of it (the rest is the daemon's)
  mb_s_up/_down[_relay|_direct]   the throughput of those transfers
  agent_resends[_relay]           messages the emulator's agent retransmitted during them
  agent_pauses[_relay]            pause_publication the emulator sent during them (our input
                                  over the service's ceiling: 0 when the daemon paces)
With --plugin PATH (a session-manager-plugin binary: AWS's, which you install; none ships
here), the same transfers also run with ssh's ProxyCommand being that plugin, as AWS documents
for SSH over Session Manager, through the same emulator (one SageMaker StartSession per ssh
connection, called by the bench and not counted):
  cpu_s_per_mib_up/_down_plugin   ssh + the plugin's CPU seconds per MiB (no daemon on this path)
  client_cpu_s_per_mib_*_plugin   the same figure (the whole client side is ssh + plugin)
  mb_s_up/_down_plugin            the throughput (the plugin sleeps 1 ms after each read of at
                                  most 1024 bytes: its upload is slow by design)
  agent_resends_plugin, agent_pauses_plugin  as above, during the plugin's transfers
The space's side (its SSH server, the emulator) is not counted on any path.
--agent-burst N sets how many messages the emulator's agent sends per pacing tick (default 16,
bursts every ~17 ms); 1 is the real agent's pacing (one websocket message per millisecond).
--read-hold-ms N sets the daemon's SMCONNECT_READ_HOLD_MS (0: no read hold), for before/after.
--daemon-pacing paced runs the daemon's channels paced as against AWS (its default ~960
messages/s, token bucket: what scripts/bench_transfer.py does); the default here, unpaced
(FAST_DAEMON), lets an upload run over the service's ceiling until the emulator pauses it. The
paced upload is issue #11's honest `cpu_s_per_mib_up`.
--tls runs every emulator of the bench with its TLS on (HTTPS API, wss:// data channel, its own
CA trusted through the sandbox's SSL_CERT_FILE and AWS_CA_BUNDLE), as the service serves it:
the daemon's figures then include asyncio's SSL transport and the record encryption, and with
--latency-ms the cold connection's TLS handshakes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import resource
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import DelaysConfig, EmulatorConfig, LimitsConfig, default_config
from bridge.ssh.command import smconnect_command
from bridge.testing.sandbox import FAST_DAEMON, Sandbox


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


def _cpu_s(pid: int, *, children: bool = False) -> float:
    """CPU seconds of ``pid`` (utime + stime), plus its reaped children's with ``children``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


Out = IO[Any] | int | None  # a file, subprocess.DEVNULL, or inherited

# Runs ssh as a child subreaper: a ProxyCommand that ssh does not wait for (on the relay path
# ssh only signals it at exit) is re-parented here and reaped, so its CPU is counted too.
_REAPER = r"""
import ctypes, os, resource, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
status = 0
while True:
    try:
        got, code = os.wait()
    except ChildProcessError:
        break
    if got == pid:
        status = os.waitstatus_to_exitcode(code)
use = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    out.write(str(use.ru_utime + use.ru_stime))
sys.exit(status)
"""


def _proxy_fdpass(env: dict[str, str]) -> tuple[float, float]:
    """The ProxyCommand's descriptor path alone, as ssh runs it: its stdout one end of a unix
    socket pair, on which the descriptor arrives. Wall ms until it exited, and its CPU ms. The
    passed connection is closed after the space's SSH banner, which ends that session (and
    the watcher the proxy left behind, which holds its stderr until then)."""
    ours, theirs = socket.socketpair()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with (
        ours,
        subprocess.Popen(
            [*smconnect_command(), "proxy", "--fdpass", "sm-demo"],
            stdin=subprocess.DEVNULL,
            stdout=theirs.fileno(),
            stderr=subprocess.PIPE,
            env=env,
        ) as proxy,
    ):
        theirs.close()
        _data, fds, _flags, _addr = socket.recv_fds(ours, 1, 1)
        proxy.wait(timeout=120)
        wall = (time.perf_counter() - start) * 1000
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        for fd in fds:
            with socket.socket(fileno=fd) as passed:
                passed.settimeout(30)
                passed.recv(64)
        _out, err = proxy.communicate(timeout=120)
    if proxy.returncode != 0 or len(fds) != 1:
        raise SystemExit(f"bench: the proxy passed no descriptor: {err[-400:]!r}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu * 1000


def _ssh_cpu(argv: list[str], env: dict[str, str], stdin: Out, stdout: Out) -> float:
    """Run ssh; the CPU seconds of it and every process it started (the ProxyCommand)."""
    with tempfile.NamedTemporaryFile("r", suffix=".cpu") as report:
        done = subprocess.run(
            [sys.executable, "-c", _REAPER, report.name, *argv],
            env=env,
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv[:6])}... failed: {done.stderr[-400:]!r}")
        return float(report.read())


def _transfer(
    argv: list[str],
    env: dict[str, str] | Callable[[], dict[str, str]],
    tmp: Path,
    mib: int,
    daemon_pid: int | None,
) -> dict[str, float]:
    """Upload then download ``mib`` MiB through ``argv`` (an ssh command line without a
    remote command); CPU seconds per MiB and MB/s each way. ``env`` may be a function called
    before each connection (neither timed nor counted): the plugin's path needs a new session
    for each."""
    size = mib * 1024 * 1024
    source = tmp / "cpu-up.bin"
    if not source.exists():
        source.write_bytes(os.urandom(size))
    sink = tmp / "cpu-down.bin"
    figures: dict[str, float] = {}
    for way in ("up", "down"):
        way_env = env() if callable(env) else env
        daemon_before = _cpu_s(daemon_pid) if daemon_pid else 0.0
        start = time.perf_counter()
        if way == "up":
            with source.open("rb") as stdin:
                cpu = _ssh_cpu([*argv, "cat > /dev/null"], way_env, stdin, subprocess.DEVNULL)
        else:
            with sink.open("wb") as stdout:
                cpu = _ssh_cpu(
                    [*argv, f"head -c {size} /dev/urandom"], way_env, subprocess.DEVNULL, stdout
                )
            if sink.stat().st_size != size:
                raise SystemExit(f"bench: downloaded {sink.stat().st_size} bytes, not {size}")
        elapsed = time.perf_counter() - start
        figures[f"client_cpu_s_per_mib_{way}"] = round(cpu / mib, 4)
        cpu += (_cpu_s(daemon_pid) - daemon_before) if daemon_pid else 0.0
        figures[f"cpu_s_per_mib_{way}"] = round(cpu / mib, 4)
        figures[f"mb_s_{way}"] = round(size / elapsed / 1e6, 3)
    return figures


def _bench_config(pacing: str, agent_burst: int = 16, *, tls: bool = False) -> EmulatorConfig:
    """The emulator every figure uses: fast app transitions, room for many sessions."""
    return dataclasses.replace(
        default_config(),
        pacing=pacing,
        agent_burst=agent_burst,
        tls=tls,
        # 10 ssh sessions at once for daemon_rss_mb, while earlier ones may still be ending.
        limits=LimitsConfig(sessions_per_space=32),
        delays=DelaysConfig(
            app_start=0.2, app_stop=0.1, space_update=0.1, start_session_failure_window=0.1
        ),
    )


@contextlib.contextmanager
def _opened_space(
    pacing: str,
    daemon_env: dict[str, str] = FAST_DAEMON,
    agent_burst: int = 16,
    *,
    tls: bool = False,
) -> Iterator[tuple[Sandbox, EmulatorThread, Path]]:
    """An emulator with ``pacing`` (and ``tls``), a sandbox whose daemon has opened the space
    ``demo``."""
    config = _bench_config(pacing, agent_burst, tls=tls)
    with (
        tempfile.TemporaryDirectory(prefix="smconnect-bench-") as tmp,
        start_in_thread(config) as emulator,
    ):
        box = Sandbox.create(Path(tmp) / "home", emulator.env, extra=daemon_env)
        try:
            box.call("space.open", {"space": "demo", "endpoint_url": emulator.endpoint_url})
            yield box, emulator, Path(tmp)
        finally:
            box.stop_daemon()


# The daemon paces its channels as it does against AWS (FAST_DAEMON turns that off for the
# unthrottled emulator): unpaced, an upload runs over the service's input ceiling, the emulator
# answers with pause_publication as the service does, and the rate swings with the pauses.
PACED_DAEMON = {**FAST_DAEMON, "SMCONNECT_CHANNEL_RATE": ""}


def add_path_options(parser: argparse.ArgumentParser) -> None:
    """The emulator's agent pacing, the daemon's read hold and its own pacing, for every
    bench of the path."""
    parser.add_argument(
        "--daemon-pacing",
        choices=("paced", "unpaced"),
        default=None,
        help="the daemon's channels paced as against AWS (~960 messages/s) or not "
        "(SMCONNECT_CHANNEL_RATE=unlimited); default: the bench's own",
    )
    parser.add_argument(
        "--agent-burst",
        type=int,
        default=16,
        help="messages the emulator's agent sends per pacing tick (1: like the real agent)",
    )
    parser.add_argument(
        "--read-hold-ms",
        type=float,
        default=None,
        help="the daemon's SMCONNECT_READ_HOLD_MS (0: no read hold; default: the daemon's)",
    )
    parser.add_argument(
        "--spare-dial",
        choices=("on", "off"),
        default=None,
        help="the daemon's SMCONNECT_SPARE_DIAL (its spare TLS connection; with --tls only "
        "does it open one); default: the daemon's",
    )


def path_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace, daemon_env: dict[str, str]
) -> dict[str, str]:
    """Check ``add_path_options``' values; ``daemon_env`` with the daemon's pacing, spare
    dial and read hold applied."""
    if not 1 <= args.agent_burst <= 32:
        parser.error("--agent-burst must be in 1-32")
    if args.daemon_pacing is not None:
        rate = "" if args.daemon_pacing == "paced" else "unlimited"
        daemon_env = {**daemon_env, "SMCONNECT_CHANNEL_RATE": rate}
    if args.spare_dial is not None:
        daemon_env = {**daemon_env, "SMCONNECT_SPARE_DIAL": args.spare_dial}
    if args.read_hold_ms is None:
        return daemon_env
    if not 0 <= args.read_hold_ms <= 1000:
        parser.error("--read-hold-ms must be in 0-1000")
    return {**daemon_env, "SMCONNECT_READ_HOLD_MS": f"{args.read_hold_ms:g}"}


def measure_cpu(
    mib: int,
    agent_burst: int = 16,
    daemon_env: dict[str, str] = FAST_DAEMON,
    pacing: str = "realistic",
    plugin: str | None = None,
    *,
    tls: bool = False,
) -> dict[str, float]:
    """The whole path's CPU per MiB under ``pacing``, on each path and direct; with ``plugin``
    (a session-manager-plugin binary) also through it, as ssh's ProxyCommand."""
    with _opened_space(pacing, daemon_env, agent_burst, tls=tls) as (box, emulator, tmp):
        _run(box.ssh_argv("sm-demo", "true"), box.env)
        daemon_pid = int(box.call("daemon.status")["pid"])
        direct = UnixForwarder(_space_ssh_socket(emulator))
        figures: dict[str, float] = {}
        paths: dict[str, tuple[list[str], dict[str, str] | Callable[[], dict[str, str]]]] = {
            "": (box.ssh_argv("sm-demo"), box.env),
            "_relay": (box.ssh_argv("-o", "ProxyUseFdpass=no", "sm-demo"), box.env),
            "_direct": ([*_direct_argv(direct.port)], box.env),
        }
        if plugin is not None:
            from plugin_path import PluginPath

            through = PluginPath(plugin, emulator, box.env)
            paths["_plugin"] = (through.argv, through.env)
        for suffix, (argv, env) in paths.items():
            pid = daemon_pid if suffix in ("", "_relay") else None
            resent, paused = _agent_resends(emulator), _agent_pauses(emulator)
            for name, value in _transfer(argv, env, tmp, mib, pid).items():
                figures[name + suffix] = value
            if suffix != "_direct":
                figures["agent_resends" + suffix] = _agent_resends(emulator) - resent
                figures["agent_pauses" + suffix] = _agent_pauses(emulator) - paused
        return figures


def _agent_resends(emulator: EmulatorThread) -> int:
    """Messages the emulator's agent sent again (an ack later than its RTO, or lost)."""
    sessions = list(emulator.emulator.broker.sessions.values())
    return sum(session.core_stats.retransmissions for session in sessions)


def _agent_pauses(emulator: EmulatorThread) -> int:
    """pause_publication frames the emulator sent (a client over its input ceiling)."""
    sessions = list(emulator.emulator.broker.sessions.values())
    return sum(session.stats.pauses_sent for session in sessions)


def _space_ssh_socket(emulator: EmulatorThread) -> str:
    apps = emulator.emulator.plane.account.apps.values()
    runtime = next(a.runtime for a in apps if a.space_name == "demo" and a.runtime)
    return str(runtime.resolve("localhost", 22))


def _direct_port(emulator: EmulatorThread) -> int:
    """A port on 127.0.0.1 that reaches the space's SSH server with nothing in between."""
    return UnixForwarder(_space_ssh_socket(emulator)).port


def _direct_argv(port: int) -> list[str]:
    return [
        "ssh", "-F", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-p", str(port), "sagemaker-user@127.0.0.1",
    ]  # fmt: skip


def measure(
    runs: int, daemon_env: dict[str, str] = FAST_DAEMON, *, tls: bool = False
) -> dict[str, float]:
    with _opened_space("unthrottled", daemon_env, tls=tls) as (box, emulator, _tmp):
        env = box.env

        direct = UnixForwarder(_space_ssh_socket(emulator))
        direct_argv = _direct_argv(direct.port)

        _run(box.ssh_argv("sm-demo", "true"), env)  # warm the host key and the daemon
        figures: dict[str, float] = {
            "ssh_true_ms_proxy": _median_ms(
                lambda: _run(box.ssh_argv("sm-demo", "true"), env), runs
            ),
            "ssh_true_ms_direct": _median_ms(lambda: _run([*direct_argv, "true"], env), runs),
        }
        command = smconnect_command()  # as the ssh config runs it
        interpreter = list(command[:-1]) if command[-1].endswith(".py") else [sys.executable]
        proxy = [*command, "proxy", "--bogus-option"]
        figures["proxy_startup_ms"] = _median_ms(lambda: _run(proxy, env, ok=(2,)), runs * 2)
        figures["python_startup_ms"] = _median_ms(
            lambda: _run([*interpreter, "-c", "pass"], env), runs * 2
        )
        figures["proxy_own_startup_ms"] = round(
            figures["proxy_startup_ms"] - figures["python_startup_ms"], 2
        )
        fdpass = [_proxy_fdpass(env) for _ in range(runs * 2)]
        figures["proxy_fdpass_ms"] = round(statistics.median(w for w, _ in fdpass), 2)
        figures["proxy_fdpass_cpu_ms"] = round(statistics.median(c for _, c in fdpass), 2)
        quiet = (subprocess.DEVNULL, subprocess.DEVNULL)
        for suffix, argv in (("proxy", box.ssh_argv("sm-demo")), ("direct", direct_argv)):
            cpu = [_ssh_cpu([*argv, "true"], env, *quiet) for _ in range(runs * 2)]
            figures[f"ssh_true_cpu_ms_{suffix}"] = round(statistics.median(cpu) * 1000, 2)
        figures["echo_rtt_ms_proxy"] = _echo_rtt_ms(box.ssh_argv("sm-demo", "cat"), env, 50)
        figures["echo_rtt_ms_direct"] = _echo_rtt_ms([*direct_argv, "cat"], env, 50)

        sessions = [
            subprocess.Popen(box.ssh_argv("sm-demo", "sleep 60"), env=env, stdin=subprocess.DEVNULL)
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench ssh", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--cpu-mib", type=int, default=4, help="MiB each way for the CPU figures (0: skip them)"
    )
    parser.add_argument("--cpu-only", action="store_true", help="only the CPU figures")
    parser.add_argument(
        "--pacing",
        choices=("realistic", "unthrottled"),
        default="realistic",
        help="the emulator's SSM pacing for the CPU figures (unthrottled: smconnect's own costs "
        "at full speed; issue #11's unthrottled download figure is cpu_s_per_mib_down)",
    )
    add_path_options(parser)
    parser.add_argument(
        "--plugin",
        metavar="PATH",
        default=None,
        help="a session-manager-plugin binary (AWS's, installed by you): the CPU figures also "
        "run ssh with it as the ProxyCommand (the *_plugin figures: ssh + plugin; the bench's "
        "own StartSession call per connection is not counted)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=None,
        help="only the connection figures on a link with this one-way delay (ssh_latency.py)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="the emulator serves HTTPS and wss:// under its own CA, as the service does",
    )
    args = parser.parse_args()
    if args.latency_ms is not None:
        if not 0 < args.latency_ms <= 10000 or args.runs < 1:
            parser.error("--latency-ms must be in (0, 10000] and --runs positive")
        from ssh_latency import measure_latency

        config = dataclasses.replace(
            _bench_config("unthrottled", tls=args.tls), latency_ms=args.latency_ms
        )
        figures = measure_latency(config, args.runs, _direct_port, _direct_argv)
        print(
            json.dumps(figures)
            if args.json
            else "\n".join(f"{name:28} {value:10.2f}" for name, value in figures.items())
        )
        return
    if args.cpu_mib < 0 or (args.cpu_only and args.cpu_mib == 0):
        parser.error("--cpu-mib must be positive (and non-zero with --cpu-only)")
    daemon_env = path_options(parser, args, FAST_DAEMON)
    if args.plugin is not None:
        from plugin_path import check_plugin

        if (problem := check_plugin(args.plugin)) or not args.cpu_mib:
            parser.error(problem or "--plugin needs the CPU figures (--cpu-mib > 0)")
    figures = {} if args.cpu_only else measure(args.runs, daemon_env, tls=args.tls)
    if args.cpu_mib:
        figures.update(
            measure_cpu(
                args.cpu_mib, args.agent_burst, daemon_env, args.pacing, args.plugin, tls=args.tls
            )
        )
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:28} {value:10.4f}")


if __name__ == "__main__":
    main()
