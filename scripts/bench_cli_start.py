"""CLI start-up benchmark: what every ``smconnect`` command pays before doing anything.

    python scripts/bench_cli_start.py [--runs 10]

Each case runs the real console entry point (``python -m bridge``, this checkout first on
``sys.path``) ``--runs`` times in a private HOME, runtime and state directory (never the
user's daemon), and prints one JSON object: per case the median wall time in ms and the
median CPU seconds (user + system) of the CLI process alone, from ``getrusage`` of the
waited-for child (a daemon it autostarts is detached and not counted).

Cases: ``--help``, ``cp --help``, ``status --json`` without a daemon, and ``status --json``
and ``cp FILE demo:f`` with a daemon started beforehand (``daemon start``). There are no AWS
credentials in the sandbox, so the daemon answers ``spaces.list`` with a credentials error at
once (the CLI prints one line and still exits 0) and refuses the copy the same way, after the
CLI did all of its part (parse, plan the request, connect, call); the figure is the CLI's
cost, not AWS's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMCONNECT_"))}
    env.update(
        HOME=str(home),
        PYTHONPATH=str(ROOT),
        SMCONNECT_RUNTIME_DIR=str(home / "run"),
        SMCONNECT_STATE_DIR=str(home / "state"),
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_REGION="us-east-1",
    )
    return env


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one run (in HOME: ``python -m`` puts the working
    directory first on ``sys.path``, and a checkout there would shadow ``PYTHONPATH``)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        argv,
        env=env,
        cwd=env["HOME"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _case(args: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    argv = [sys.executable, "-m", "bridge", *args]
    samples = [_once(argv, env) for _ in range(runs)]
    return {
        "wall_ms": round(statistics.median(s[0] for s in samples) * 1000, 1),
        "cpu_s": round(statistics.median(s[1] for s in samples), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smconnect-bench-cli-") as tmp:
        env = _env(Path(tmp))
        results = {
            "help": _case(["--help"], env, options.runs),
            "cp_help": _case(["cp", "--help"], env, options.runs),
            "status_json_no_daemon": _case(["status", "--json"], env, options.runs),
        }
        cli = [sys.executable, "-m", "bridge"]
        subprocess.run([*cli, "daemon", "start"], env=env, cwd=tmp, capture_output=True, check=True)
        try:
            results["status_json_daemon"] = _case(["status", "--json"], env, options.runs)
            (Path(tmp) / "f").write_bytes(b"x" * 1024)
            results["cp_daemon"] = _case(["cp", str(Path(tmp) / "f"), "demo:f"], env, options.runs)
        finally:
            subprocess.run(
                [*cli, "daemon", "stop"], env=env, cwd=tmp, capture_output=True, check=False
            )
    results["runs"] = {"count": options.runs}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
