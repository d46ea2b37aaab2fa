"""``scripts/bench ssh --latency-ms N``: what a new ssh connection costs on a long link.

Issue 11's latency part. The emulator runs with ``latency_ms=N`` (a delay line in front of its
API and its websockets); the figures, medians over the runs, all measured in the same run:

  ssh_true_ms_cold    `ssh sm-demo true` with no channel to the space yet (a daemon with warm
                      channels off: every ssh pays StartSession, the dial and the handshake);
                      the space was described by the previous ssh a few seconds before, so
                      no describe call is made (SMCONNECT_DESCRIPTION_REUSE_SECONDS)
  ssh_true_ms_cold_fresh  the same with no recent description either (reuse off): every ssh
                      also describes the space (DescribeSpace and ListApps, one round trip,
                      with StartSession sent beside them once the daemon knows the ARN)
  ssh_true_ms_cold_new_daemon  the same as the first connection of a daemon started just
                      before (nothing learnt in its memory: it describes the space, and needs
                      the app run's host key); what an earlier daemon kept in the state
                      directory (ARNs, host keys: bridge/daemon/remembered.py) is used
  ssh_true_ms_warm    the same with warm channels on, each ssh taking the ready spare
  ssh_true_ms_direct  `ssh` straight to the space's SSH server through a TCP delay line with
                      the same one-way delay (TCP's handshake included, as on every line
                      of the emulator: bridge/emulator/delay.py): the floor
  start_session_ms    one StartSession API call (boto3) on that link
  rtt_ms              one round trip (2 N)
  goal_warm_ms        1.25 x direct           (the issue's goal for warm)
  goal_cold_ms        direct + StartSession + 3 round trips (the goal for cold)

With ``--tls`` the emulator serves HTTPS and ``wss://`` (its own CA, trusted through the
environment it gives the daemon): every cold figure then pays the TLS handshakes over the
delay line, as on AWS.

Each ssh is timed alone: the previous one's teardown gets SETTLE_SECONDS first (``_settle``).
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import EmulatorConfig
from bridge.emulator.delay import DelayLine
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

__all__ = ["measure_latency"]

SETTLE_SECONDS = 1.5


def _ssh_ms(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv[:4])}... failed: {done.stderr[-400:]!r}")
    return (time.perf_counter() - start) * 1000


def _settle() -> None:
    """Let the previous connection's teardown (its channel's close, TerminateSession, a new
    spare) finish before the next one is timed: the emulator and its delay lines run in this
    process, and each figure is one connection's time, not its predecessor's leftovers."""
    time.sleep(SETTLE_SECONDS)


def _first_of_a_new_daemon(box: Sandbox) -> float:
    """The first ssh of a daemon started (by a call that learns nothing) just before."""
    box.stop_daemon()
    box.call("sessions.status")
    _settle()
    return _ssh_ms(box.ssh_argv("sm-demo", "true"), box.env)


def _wait_for_spare(box: Sandbox, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = box.call("sessions.status")["sessions"]
        if any(s["purpose"] == "warm" and s["state"] == "connected" for s in sessions):
            return
        time.sleep(0.05)
    raise SystemExit("bench: no warm channel appeared within 30 s")


def _client(emulator: EmulatorThread, service: str) -> Any:
    env = emulator.env
    make: Any = boto3.client  # typed per service literal; the service is a parameter here
    return make(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        verify=env.get("AWS_CA_BUNDLE"),  # the emulator's CA with tls on, else the default
    )


def _start_session_ms(emulator: EmulatorThread, runs: int) -> float:
    sm, ssm = _client(emulator, "sagemaker"), _client(emulator, "ssm")
    space = next(s for s in sm.list_spaces()["Spaces"] if s["SpaceName"] == "demo")
    arn = sm.describe_space(DomainId=space["DomainId"], SpaceName="demo")["SpaceArn"]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        grant = sm.start_session(ResourceIdentifier=arn)
        samples.append((time.perf_counter() - start) * 1000)
        ssm.terminate_session(SessionId=grant["SessionId"])
    return statistics.median(samples)


def measure_latency(
    config: EmulatorConfig,
    runs: int,
    direct_port: Callable[[EmulatorThread], int],
    direct_argv: Callable[[int], list[str]],
) -> dict[str, float]:
    """The figures above, on an emulator with ``config`` (``latency_ms`` set); ``direct_port`` opens a plain TCP path to the space's SSH server
    (without delay) and ``direct_argv`` is the ssh command line for a port."""
    latency_ms = config.latency_ms
    with (
        tempfile.TemporaryDirectory(prefix="smconnect-bench-") as tmp,
        start_in_thread(config) as emulator,
    ):
        settings = {  # box -> (warm channels, description reuse)
            "off": ("off", "10"),
            "fresh": ("off", "0"),
            "new": ("off", "0"),
            "on": ("on", "10"),
        }
        boxes = {
            name: Sandbox.create(
                Path(tmp) / f"home-{name}",
                emulator.env,
                extra={
                    **FAST_DAEMON,
                    "SMCONNECT_WARM_CHANNELS": warm,
                    "SMCONNECT_DESCRIPTION_REUSE_SECONDS": reuse,
                },
            )
            for name, (warm, reuse) in settings.items()
        }
        line: DelayLine | None = None
        try:
            for box in boxes.values():
                box.call("space.open", {"space": "demo", "endpoint_url": emulator.endpoint_url})
            line = DelayLine("127.0.0.1", direct_port(emulator), latency_ms / 1000.0)
            emulator.call(line.start)
            direct = direct_argv(line.port)
            _ssh_ms([*direct, "true"], boxes["off"].env)  # host key, page cache
            cold, fresh, new, warm, plain = [], [], [], [], []
            box = boxes["on"]
            _ssh_ms(box.ssh_argv("sm-demo", "true"), box.env)  # the first spare
            for _ in range(runs):
                _settle()
                cold.append(_ssh_ms(boxes["off"].ssh_argv("sm-demo", "true"), boxes["off"].env))
                _settle()
                fresh.append(
                    _ssh_ms(boxes["fresh"].ssh_argv("sm-demo", "true"), boxes["fresh"].env)
                )
                new.append(_first_of_a_new_daemon(boxes["new"]))
                _wait_for_spare(box)
                _settle()
                warm.append(_ssh_ms(box.ssh_argv("sm-demo", "true"), box.env))
                _settle()
                plain.append(_ssh_ms([*direct, "true"], box.env))
            figures = {
                "latency_ms": latency_ms,
                "rtt_ms": 2 * latency_ms,
                "ssh_true_ms_cold": statistics.median(cold),
                "ssh_true_ms_cold_fresh": statistics.median(fresh),
                "ssh_true_ms_cold_new_daemon": statistics.median(new),
                "ssh_true_ms_warm": statistics.median(warm),
                "ssh_true_ms_direct": statistics.median(plain),
                "start_session_ms": _start_session_ms(emulator, runs),
            }
        finally:
            if line is not None:
                emulator.call(line.stop)
            for box in boxes.values():
                box.stop_daemon()
    figures["goal_warm_ms"] = 1.25 * figures["ssh_true_ms_direct"]
    figures["goal_cold_ms"] = (
        figures["ssh_true_ms_direct"] + figures["start_session_ms"] + 3 * figures["rtt_ms"]
    )
    return {name: round(value, 2) for name, value in figures.items()}
