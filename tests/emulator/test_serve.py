"""`smconnect emulator serve` as a real subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

SMCONNECT = str(Path(sys.executable).with_name("smconnect"))

CONFIG = """
delays: {app_start: 0.1, app_stop: 0.1}
domains:
  - id: d-served0001
    name: served
    user_profiles: [me]
    spaces:
      - {name: one, app_type: CodeEditor, app_running: true}
"""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def test_serve_prints_exports_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    config = tmp_path / "emu.yaml"
    config.write_text(CONFIG)
    proc = subprocess.Popen(
        [
            SMCONNECT,
            "emulator",
            "serve",
            "--config",
            str(config),
            "--pacing",
            "unthrottled",
            "--session-limit",
            "1",
            "--minute-seconds",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        _use_served_emulator(proc)
    except BaseException:
        proc.kill()
        _, stderr = proc.communicate(timeout=30)
        print("emulator stderr:\n" + stderr)  # shown by pytest on failure
        raise
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert time.monotonic() - started < 15, stderr
    assert "Traceback" not in stderr, stderr
    assert "stopping" in stderr, stderr


def _exports(proc: subprocess.Popen[str], count: int) -> dict[str, str]:
    """The first ``count`` lines ``serve`` prints, each ``export NAME=value``."""
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(count)]
    env = {}
    for line in lines:
        assert line.startswith("export "), lines
        name, _, value = line[len("export ") :].strip().partition("=")
        env[name] = value
    return env


def _sagemaker(env: dict[str, str]) -> Any:
    """A boto3 SageMaker client on the printed environment alone (the CA too, if printed)."""
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    return session.client(
        "sagemaker",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        verify=env.get("AWS_CA_BUNDLE"),
        config=Config(retries={"total_max_attempts": 1}),
    )


def _use_served_emulator(proc: subprocess.Popen[str]) -> None:
    env = _exports(proc, 5)
    assert set(env) == {
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    }
    sm = _sagemaker(env)
    assert [s["SpaceName"] for s in sm.list_spaces()["Spaces"]] == ["one"]
    apps = sm.list_apps(DomainIdEquals="d-served0001")["Apps"]
    assert [(a["SpaceName"], a["Status"]) for a in apps] == [("one", "InService")]
    arn = "arn:aws:sagemaker:us-east-1:123456789012:space/d-served0001/one"
    sm.start_session(ResourceIdentifier=arn)  # --session-limit 1: the second is refused
    try:
        sm.start_session(ResourceIdentifier=arn)
    except sm.exceptions.ResourceLimitExceeded:
        pass
    else:
        raise AssertionError("the session limit from --session-limit was not applied")


def _serve_config(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SMCONNECT, "emulator", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
    )


def test_serve_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _serve_config(tmp_path / "nope.yaml")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("smconnect emulator: config file ")
    assert "does not exist" in result.stderr

    bad = tmp_path / "bad.yaml"
    bad.write_text("domains: [{id: d-x1, spaces: [{name: a, remote_access: maybe}]}]\n")
    result = _serve_config(bad)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "domains[0].spaces[0].remote_access" in result.stderr

    bad.write_text("tls: yes please\n")
    result = _serve_config(bad)
    assert (result.returncode, result.stdout) == (2, "")
    assert (
        result.stderr
        == f"smconnect emulator: {bad}: config.tls: expected true or false, got a string\n"
    )


def test_serve_tls_prints_the_ca_to_trust_and_serves_https() -> None:
    proc = subprocess.Popen(
        [SMCONNECT, "emulator", "serve", "--tls"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        env = _exports(proc, 7)
        assert env["AWS_ENDPOINT_URL"].startswith("https://127.0.0.1:")
        assert env["SSL_CERT_FILE"] == env["AWS_CA_BUNDLE"]
        assert "demo" in [s["SpaceName"] for s in _sagemaker(env).list_spaces()["Spaces"]]
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "serving https://127.0.0.1:" in stderr, stderr
    assert "PRIVATE KEY" not in stderr
