"""What a new ssh connection asks AWS before StartSession, through real OpenSSH: the host of
our ssh config names its space (no listing), a description of the space a few seconds old is
reused (no describe call), and when it has gone stale (the app was stopped behind the daemon's
back) the refused StartSession leads to a fresh description and a working connection. The
calls are read from the emulator's API log."""

from __future__ import annotations

import logging
import time

import boto3
import pytest

from bridge.daemon.settings import DaemonSettings

from .e2e_helpers import Stack

API_LOG = "bridge.emulator.control.server"
# A Code Editor space: what is asked before StartSession is the same for every app type, and
# its app starts in milliseconds (JupyterLab's Jupyter server takes seconds, twice here).
SPACE, HOST = "editor", "sm-editor"


def _calls(caplog: pytest.LogCaptureFixture) -> list[str]:
    """``Operation -> outcome`` for every SageMaker call the emulator answered."""
    return [
        r.getMessage().removeprefix("SageMaker.")
        for r in caplog.records
        if r.name == API_LOG and r.getMessage().startswith("SageMaker.")
    ]


def _stop_behind_the_daemons_back(stack: Stack) -> None:
    env = stack.emu.env
    sm = boto3.client(
        "sagemaker",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    app = {"DomainId": "d-emulator00001", "SpaceName": SPACE, "AppType": "CodeEditor"}
    sm.delete_app(**app, AppName="default")
    deadline = time.monotonic() + 20
    while sm.describe_app(**app, AppName="default")["Status"] != "Deleted":
        assert time.monotonic() < deadline, "the app did not stop"
        time.sleep(0.05)


def test_recent_description_is_reused_and_a_stale_one_refreshed(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=API_LOG)
    stack.call("space.open", {"space": SPACE, "endpoint_url": stack.emu.endpoint_url})
    caplog.clear()
    done = stack.ssh(HOST, "true", timeout=60)
    assert done.returncode == 0, done.stderr
    # The installed ssh config names the host's space: no listing of every space first.
    assert not [c for c in _calls(caplog) if c.startswith("List") and c != "ListApps -> 200"]
    caplog.clear()
    done = stack.ssh(HOST, "true", timeout=60)  # the previous one described it just now
    assert done.returncode == 0, done.stderr
    assert _calls(caplog) == ["StartSession -> 200"]

    _stop_behind_the_daemons_back(stack)
    caplog.clear()
    done = stack.ssh(HOST, "true", timeout=60)
    assert done.returncode == 0, done.stderr
    calls = _calls(caplog)
    # The reused description said "running": StartSession was refused, the space described
    # afresh (stopped), started, and the session opened.
    assert calls[0] == "StartSession -> ValidationException", calls
    assert "DescribeSpace -> 200" in calls and "CreateApp -> 200" in calls, calls
    assert calls[-1] == "StartSession -> 200", calls


def test_description_reuse_setting() -> None:
    def reuse(value: str) -> float:
        return DaemonSettings.from_env(
            {"SMCONNECT_DESCRIPTION_REUSE_SECONDS": value}
        ).description_reuse

    assert DaemonSettings.from_env({}).description_reuse == 10.0
    assert (reuse("3"), reuse("0"), reuse("off"), reuse("soon")) == (3.0, 0.0, 0.0, 10.0)
