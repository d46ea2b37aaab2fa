"""scripts/bench transfer [--json] [--quick]: `smconnect cp` striped over lanes, realistic pacing.

Figures (SIZE = 32 MiB, 256 KiB with --quick; MB/s = payload / the copy's own seconds):
  random_{up,down}_mb_s_{1,2,4,8}  random bytes over 1, 2, 4 and 8 lanes
  csv_{up,down}_mb_s_8             compressible CSV over 8 lanes
  small_files_s_8 / one_file_s_8   SIZE+25 % as 4 KiB files (-r; 10 000 at full size) vs one file
  small_vs_one                     their ratio (the issue asks for at most 2)
  cpu_s_per_mib_{up,down}          at the most lanes (8): the user side's CPU (the `smconnect cp` process and the
                                   daemon, which holds the lanes' SSH connections) per MiB of the
                                   random copies at 8 lanes; the space's helper and the emulator
                                   are not counted
  daemon_cpu_s_per_mib_{up,down}   the daemon's share of it (the rest is the `cp` process, whose
                                   start-up, ~1 CPU s, weighs on small copies)
  space_cpu_s_per_mib_{up,down}    the other side's CPU per MiB at the most lanes: the emulator
                                   (this process: its agents, pacing and the space's SSH server)
                                   plus the lanes' helpers (its reaped children)
  busy_{daemon,space}_{up,down}    CPU seconds / wall seconds of the copy at the most lanes: 1.0
                                   is one core; the emulator's Python runs on one core at most
--agent-burst N, --read-hold-ms N and --daemon-pacing as in scripts/bench_ssh.py (the agent's
pacing, the daemon's read hold, the daemon's own pacing: paced here by default). With --lanes N,M,...: only the random copies, over those lane counts, each with
  {cpu,daemon_cpu,space_cpu}_s_per_mib_{up,down}_N and busy_{daemon,space}_{up,down}_N as above.
  resume_skipped_fraction          kill -9 of `cp` half-way (8 lanes, 1 MiB pieces), then the
                                   re-run's skipped_bytes / SIZE; the result is checked identical
  load_1m                          the 1-minute load average when the bench ended
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_ssh import (  # scripts/ is on sys.path when run as a script
    PACED_DAEMON,
    _cpu_s,
    _opened_space,
    add_path_options,
    path_options,
)

from bridge.emulator import EmulatorThread
from bridge.testing.sandbox import SMCONNECT as SMCONNECT_BIN
from bridge.testing.sandbox import Sandbox

SMCONNECT = [SMCONNECT_BIN]
QUICK_SIZE = 256 << 10


def _cp(box: Sandbox, *args: str) -> tuple[dict[str, Any], float]:
    """Run ``smconnect cp --json``; its summary and the CPU seconds of the command itself."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [*SMCONNECT, "cp", "--json", *args], env=box.env, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"bench: cp {' '.join(args)} failed: {err.read()[-400:]!r}")
        return json.loads(out.read()), usage.ru_utime + usage.ru_stime


def _home(emulator: EmulatorThread) -> Path:
    runs = sorted(emulator.emulator.root.glob("*-demo-*"), key=lambda p: p.stat().st_mtime)
    return runs[-1] / "home" / "sagemaker-user"


def _mb_s(summary: dict[str, Any]) -> float:
    return round(summary["bytes"] / max(summary["seconds"], 1e-6) / 1e6, 3)


def _space_cpu_s() -> float:
    """CPU seconds of the space's side: this process (the emulator's threads; the bench's own
    thread waits) and its reaped children (the lanes' helpers, and the `cp` runs)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _copy_both_ways(
    box: Sandbox, src: Path, lanes: int, daemon: int, extra: tuple[str, ...] = ()
) -> dict[str, float]:
    """Up then down over ``lanes``: MB/s, user-side and space-side CPU s/MiB and how busy the
    daemon and the space's side were, each way."""
    figures = {}
    back = src.with_suffix(".back")
    for way, paths in (
        ("up", [str(src), "demo:" + src.name]),
        ("down", ["demo:" + src.name, str(back)]),
    ):
        before, space_before, start = _cpu_s(daemon), _space_cpu_s(), time.monotonic()
        summary, cli_cpu = _cp(box, "--lanes", str(lanes), *extra, *paths)
        wall = time.monotonic() - start
        daemon_cpu = _cpu_s(daemon) - before
        time.sleep(0.5)  # the lanes' helpers exit after the copy; let the emulator reap them
        space_cpu = _space_cpu_s() - space_before - cli_cpu
        mib = summary["bytes"] / (1 << 20)
        figures[f"{way}_mb_s"] = _mb_s(summary)
        figures[f"{way}_cpu_s_per_mib"] = round((cli_cpu + daemon_cpu) / mib, 4)
        figures[f"{way}_daemon_cpu_s_per_mib"] = round(daemon_cpu / mib, 4)
        figures[f"{way}_space_cpu_s_per_mib"] = round(space_cpu / mib, 4)
        figures[f"{way}_busy_daemon"] = round(daemon_cpu / wall, 2)
        figures[f"{way}_busy_space"] = round(space_cpu / wall, 2)
    if hashlib.sha256(back.read_bytes()).digest() != hashlib.sha256(src.read_bytes()).digest():
        raise SystemExit(f"bench: {src.name} came back different")
    back.unlink()
    return figures


def _resume(box: Sandbox, src: Path, size: int) -> float:
    """kill -9 half-way through an upload, run it again: the fraction it skipped."""
    manifests = box.state_dir / "transfers"
    args = [
        *SMCONNECT,
        "cp",
        "--json",
        "--lanes",
        "8",
        "--chunk",
        "1M",
        str(src),
        "demo:resume.bin",
    ]
    proc = subprocess.Popen(args, env=box.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pieces = size // (1 << 20)
    while proc.poll() is None:
        landed = sum(p.read_bytes().count(b"\n") - 1 for p in manifests.glob("*.smc-resume"))
        if landed >= pieces // 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    summary, _ = _cp(box, "--lanes", "8", "--chunk", "1M", str(src), "demo:resume.bin")
    return round(summary["skipped_bytes"] / size, 3)


def _small_files(box: Sandbox, tmp: Path, size: int) -> dict[str, float]:
    """1.25 times ``size`` as 4 KiB files (10 000 at 32 MiB) against one file of that size."""
    many = tmp / "many"
    many.mkdir()
    count = (size + size // 4) // 4096
    for i in range(count):
        (many / f"f{i:05}").write_bytes(os.urandom(4096))
    one = tmp / "one.bin"
    one.write_bytes(os.urandom(count * 4096))
    small, _ = _cp(box, "-r", "--lanes", "8", str(many), "demo:")
    single, _ = _cp(box, "--lanes", "8", str(one), "demo:")
    return {
        "small_files": count,
        "small_files_s_8": small["seconds"],
        "one_file_s_8": single["seconds"],
        "small_vs_one": round(small["seconds"] / max(single["seconds"], 1e-6), 2),
    }


def measure(
    quick: bool,
    mib: int = 32,
    only: str = "all",
    lanes_list: tuple[int, ...] = (),
    chunk: str | None = None,
    agent_burst: int = 16,
    daemon_env: dict[str, str] = PACED_DAEMON,
) -> dict[str, float]:
    """The figures; ``only`` limits them to the small-files ratio (``small``) or the 8-lane
    rates and CPU (``cpu``), so one figure can be re-measured in a minute on a busy machine;
    ``lanes_list`` gives the random copies only, with CPU figures at every lane count;
    ``chunk`` is `cp --chunk` for them (a file of one chunk travels over one lane)."""
    # --quick is the suite's smoke test of the figures' shape: the smallest copies that still
    # take every path (its time is mostly process starts, not bytes).
    size = QUICK_SIZE if quick else mib << 20
    lane_counts = (1, 2) if quick else (1, 2, 4, 8) if only == "all" else (8,)
    lane_counts = lanes_list or lane_counts
    with _opened_space("realistic", daemon_env, agent_burst) as (box, emulator, tmp):
        daemon = int(box.call("daemon.status")["pid"])
        figures: dict[str, float] = {"mib": size / (1 << 20)}
        random = tmp / "random.bin"
        random.write_bytes(os.urandom(size))
        for lanes in lane_counts if only != "small" else ():
            extra = ("--chunk", chunk) if chunk else ()
            got = _copy_both_ways(box, random, lanes, daemon, extra)
            for way in ("up", "down"):
                figures[f"random_{way}_mb_s_{lanes}"] = got[f"{way}_mb_s"]
                if lanes == lane_counts[-1] or lanes_list:
                    tail = f"_{lanes}" if lanes_list else ""
                    figures[f"cpu_s_per_mib_{way}{tail}"] = got[f"{way}_cpu_s_per_mib"]
                    for part in ("daemon", "space"):
                        key = f"{part}_cpu_s_per_mib"
                        figures[f"{key}_{way}{tail}"] = got[f"{way}_{key}"]
                    figures[f"busy_daemon_{way}{tail}"] = got[f"{way}_busy_daemon"]
                    figures[f"busy_space_{way}{tail}"] = got[f"{way}_busy_space"]
        if only == "cpu" or lanes_list:
            return figures | {"load_1m": round(os.getloadavg()[0], 2)}
        if only == "small":
            return figures | _small_files(box, tmp, size)
        csv = tmp / "table.csv"
        row = b"2026-11-30T21:00:00Z,sensor-17,23.5,0.0017,ok\n"
        csv.write_bytes(row * (size // len(row)))
        got = _copy_both_ways(box, csv, 8, daemon)
        figures["csv_up_mb_s_8"], figures["csv_down_mb_s_8"] = got["up_mb_s"], got["down_mb_s"]
        figures |= _small_files(box, tmp, size)
        figures["resume_skipped_fraction"] = _resume(box, random, size)
        if (_home(emulator) / "resume.bin").read_bytes() != random.read_bytes():
            raise SystemExit("bench: the resumed copy is not identical")
    figures["load_1m"] = round(os.getloadavg()[0], 2)
    return figures


def _lane_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of lane counts: {text!r}") from None
    if not all(1 <= n <= 16 for n in counts):
        raise argparse.ArgumentTypeError("lane counts go from 1 to 16")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="scripts/bench transfer", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="256 KiB sizes, 1 and 2 lanes (smoke)")
    parser.add_argument("--mib", type=int, default=32, help="payload size (default 32)")
    parser.add_argument(
        "--only", choices=("all", "small", "cpu"), default="all", help="one figure only"
    )
    parser.add_argument(
        "--lanes",
        type=_lane_counts,
        default=(),
        metavar="N,M,...",
        help="only the random copies, over these lane counts, with CPU figures at each",
    )
    parser.add_argument(
        "--chunk",
        metavar="SIZE",
        help="`cp --chunk` for the random copies (default 4M; a file of one chunk uses one lane)",
    )
    add_path_options(parser)
    args = parser.parse_args()
    daemon_env = path_options(parser, args, PACED_DAEMON)
    figures = measure(
        args.quick, args.mib, args.only, args.lanes, args.chunk, args.agent_burst, daemon_env
    )
    lines = [f"{name:28} {value:10.4f}" for name, value in figures.items()]
    print(json.dumps(figures) if args.json else "\n".join(lines))


if __name__ == "__main__":
    main()
