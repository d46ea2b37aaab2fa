"""scripts/count_wakeups.py [--mib N] [--agent-burst N] [--read-hold-ms N] [--daemon-pacing paced] [--json]: the daemon's wake-ups and socket calls per MiB
for one ssh upload and one download through the descriptor path, under the realistic SSM
pacing (the set-up of scripts/bench_ssh.py). Counts, unlike CPU seconds, hardly move with the
machine's load, so they show what a change to the data path saves.

The daemon is started with a ``sitecustomize`` (on its PYTHONPATH only) that counts, and writes
on SIGUSR2; product code is untouched. Per MiB:
  loop_iterations          event-loop iterations (``_run_once``)
  sleeps                   times a daemon thread blocked (voluntary context switches, from
                           /proc: not from the counters): the wake-ups
  callbacks_run            handles run by the loop (task steps, future callbacks, timers)
  call_soon                callbacks queued for the next iteration
  timers_scheduled/_cancelled   ``call_at`` (and so ``call_later``, ``asyncio.timeout``)
  send_tcp/recv_tcp        socket calls on the websockets to the service, *_bytes per call
  send_unix/recv_unix      the same on unix sockets: the descriptor passed to ssh
The counters cost CPU themselves: take CPU figures from scripts/bench_ssh.py, not from a run
of this script.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench_ssh import (  # scripts/ is on sys.path when run as a script
    _opened_space,
    _run,
    add_path_options,
    path_options,
)

from bridge.testing.sandbox import FAST_DAEMON

_COUNTERS = r"""
import asyncio, asyncio.base_events as be, asyncio.events as ev, collections, json, os, signal, socket
_n = collections.Counter()
def _wrap(owner, name, key, nbytes=None):
    inner = getattr(owner, name)
    def counted(self, *a, **k):
        got = inner(self, *a, **k)
        fam = getattr(self, "family", None)
        tag = key if fam is None else key + ("_unix" if fam == socket.AF_UNIX else "_tcp")
        _n[tag] += 1
        if nbytes is not None:
            _n[tag + "_bytes"] += nbytes(a, got)
        return got
    setattr(owner, name, counted)
_wrap(be.BaseEventLoop, "_run_once", "loop_iterations")
_wrap(be.BaseEventLoop, "call_at", "timers_scheduled")
def _timer_name(handle):
    callback = handle._callback
    name = getattr(callback, "__qualname__", None) or type(callback).__name__
    return name.rsplit("<locals>.", 1)[-1]
_fire = ev.TimerHandle._run
def _fired(self):
    _n["timers_fired"] += 1
    _n["timers_fired:" + _timer_name(self)] += 1
    return _fire(self)
ev.TimerHandle._run = _fired
_wrap(be.BaseEventLoop, "call_soon", "call_soon")
_wrap(ev.TimerHandle, "cancel", "timers_cancelled")
_wrap(ev.Handle, "_run", "callbacks_run")
_wrap(socket.socket, "send", "send", lambda a, got: got)
_wrap(socket.socket, "sendmsg", "send", lambda a, got: got)
_wrap(socket.socket, "recv", "recv", lambda a, got: len(got))
_wrap(socket.socket, "recv_into", "recv", lambda a, got: got)
def _dump(*_):
    with open(os.environ["COUNT_WAKEUPS_OUT"], "w") as out:
        json.dump(_n, out)
signal.signal(signal.SIGUSR2, _dump)
"""


def _counters(pid: int, out: Path) -> collections.Counter[str]:
    """The daemon's counters so far, plus its threads' sleeps."""
    os.kill(pid, signal.SIGUSR2)
    for _ in range(50):
        time.sleep(0.1)
        if out.exists() and out.stat().st_size:
            got: collections.Counter[str] = collections.Counter(json.loads(out.read_text()))
            out.unlink()
            break
    else:
        raise SystemExit("count_wakeups: the daemon wrote no counters")
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches"):
                got["sleeps"] += int(line.split()[1])
    return got


def _per_mib(
    pid: int, out: Path, mib: int, argv: list[str], env: dict[str, str], **io: object
) -> dict[str, float]:
    """Run one ssh transfer; the counters' growth per MiB, bytes as bytes per call."""
    before = _counters(pid, out)
    subprocess.run(argv, env=env, check=True, **io)  # type: ignore[call-overload]
    time.sleep(0.3)  # the tail of the close
    grown = _counters(pid, out)
    grown.subtract(before)
    figures: dict[str, float] = {}
    for name in sorted(grown):
        if name.endswith("_bytes"):
            calls = grown[name.removesuffix("_bytes")]
            figures[name + "_per_call"] = round(grown[name] / calls) if calls else 0
        else:
            figures[name] = round(grown[name] / mib, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=4)
    add_path_options(parser)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    daemon_env = path_options(parser, args, FAST_DAEMON)
    size = args.mib * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="count-wakeups-") as hook:
        Path(hook, "sitecustomize.py").write_text(_COUNTERS)
        out = Path(hook, "counters.json")
        path = os.pathsep.join([hook, os.environ.get("PYTHONPATH", "")])
        env = {**daemon_env, "PYTHONPATH": path, "COUNT_WAKEUPS_OUT": str(out)}
        with _opened_space("realistic", env, args.agent_burst) as (box, _emulator, tmp):
            _run(box.ssh_argv("sm-demo", "true"), box.env)
            pid = int(box.call("daemon.status")["pid"])
            ssh = box.ssh_argv("sm-demo")
            source = tmp / "up.bin"
            source.write_bytes(os.urandom(size))
            with source.open("rb") as stdin:
                up = _per_mib(pid, out, args.mib, [*ssh, "cat > /dev/null"], box.env, stdin=stdin)
            with (tmp / "down.bin").open("wb") as stdout:
                down = _per_mib(
                    pid,
                    out,
                    args.mib,
                    [*ssh, f"head -c {size} /dev/urandom"],
                    box.env,
                    stdout=stdout,
                )
    figures = {"up": up, "down": down}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{'per MiB':28} {'up':>10} {'down':>10}")
    for name in sorted(set(up) | set(down)):
        print(f"{name:28} {up.get(name, 0):>10} {down.get(name, 0):>10}")


if __name__ == "__main__":
    main()
