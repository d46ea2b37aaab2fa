"""A new ssh connection whose space must be described and whose ARN the daemon knows sends
StartSession beside the description (``bridge/daemon/early.py``), on an emulator with a long
link; when the description does not want that session (remote access turned off, the app
stopped), the answer is today's and no session is left open. The calls are read from the
emulator's API log, the sessions from its broker."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from bridge.aws.caller import caller_params
from bridge.emulator.config import default_config

from .e2e_helpers import FAST_DELAYS, Stack, running_stack

API_LOG = "bridge.emulator.control.server"
LATENCY = 0.1  # one way, seconds: a call answered before the next is sent is plain to see
SPACE, HOST, DOMAIN = "editor", "sm-editor", "d-emulator00001"


@pytest.fixture(scope="module")
def far(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The emulator 100 ms away; every connection describes its space (no reuse). The ARN is
    known from ``space.open``'s description (another identity: it sends the region, ssh's
    ProxyCommand does not)."""
    config = dataclasses.replace(
        default_config(), pacing="unthrottled", delays=FAST_DELAYS, latency_ms=LATENCY * 1000
    )
    extra = {"SMCONNECT_DESCRIPTION_REUSE_SECONDS": "0"}
    for stack in running_stack(config, tmp_path_factory, extra):
        stack.call("space.open", {"space": SPACE, "endpoint_url": stack.emu.endpoint_url})
        yield stack


def _records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, float]]:
    """(``Operation -> outcome``, when the emulator answered it) for every API call."""
    return [
        (r.getMessage().split(".", 1)[-1], r.created)
        for r in caplog.records
        if r.name == API_LOG and r.getMessage().startswith(("SageMaker.", "AmazonSSM."))
    ]


def _live_sessions(stack: Stack) -> list[str]:
    sessions = stack.emu.emulator.broker.sessions
    return [i for i, s in sessions.items() if not s.is_ending and not s.ended.is_set()]


def _sagemaker(stack: Stack) -> Any:
    env = stack.emu.env
    return boto3.client(
        "sagemaker",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def _wait_no_sessions(stack: Stack) -> None:
    from tests.support import wait_until

    wait_until(lambda: not _live_sessions(stack), timeout=10)


def test_start_session_goes_out_beside_the_description(
    far: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    _wait_no_sessions(far)
    caplog.set_level(logging.INFO, logger=API_LOG)
    caplog.clear()
    done = far.ssh(HOST, "echo ok", timeout=60)
    assert done.returncode == 0 and done.stdout == b"ok\n", done.stderr
    calls = dict(_records(caplog))
    assert [c for c in calls if c.startswith("StartSession")] == ["StartSession -> 200"]
    # Sequential, StartSession would reach the emulator a whole round trip after it answered
    # DescribeSpace; beside it, both arrive within the same one-way trip.
    assert "DescribeSpace -> 200" in calls and "ListApps -> 200" in calls
    assert calls["StartSession -> 200"] < calls["DescribeSpace -> 200"] + LATENCY


def test_a_new_daemon_sends_its_first_start_session_beside_the_description(
    far: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """The ARN an earlier daemon learnt is kept in the state directory (``remembered.py``): the
    daemon the ProxyCommand starts afresh sends its very first StartSession early too."""
    _wait_no_sessions(far)
    far.stop_daemon()
    assert f":space/{DOMAIN}/{SPACE}" in (far.state_dir / "space-arns.json").read_text()
    caplog.set_level(logging.INFO, logger=API_LOG)
    caplog.clear()
    done = far.ssh(HOST, "true", timeout=60)
    assert done.returncode == 0, done.stderr
    calls = dict(_records(caplog))
    assert calls["StartSession -> 200"] < calls["DescribeSpace -> 200"] + LATENCY, _records(caplog)


def test_a_new_daemon_learns_an_unknown_host_key_beside_the_ssh_channel(
    far: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """No kept host key (a new app run, or none learnt yet): the host-key channel and ssh's
    own open at once; ssh still finds the key in our known_hosts (BatchMode: no prompt)."""
    _wait_no_sessions(far)
    far.stop_daemon()
    (far.state_dir / "host-keys.json").unlink()
    caplog.set_level(logging.INFO, logger=API_LOG)
    caplog.clear()
    done = far.ssh(HOST, "true", timeout=60)
    assert done.returncode == 0, done.stderr
    calls = [c for c, _ in _records(caplog)]
    assert calls.count("StartSession -> 200") == 2, calls  # ssh's (early) and the host key's
    # ssh's channel, on the early session, is ready a round trip before the host-key channel
    # (its StartSession waits for the description): it did not wait for that channel's turn
    log = (far.state_dir / "daemon.log").read_text().rsplit("serving on", 1)[-1]
    opened = re.findall(r"opened (ssh|hostkey) channel", log)
    assert opened == ["ssh", "hostkey"], log[-2000:]
    assert (far.state_dir / "host-keys.json").exists()
    _wait_no_sessions(far)


def test_a_session_the_description_refuses_is_terminated(
    far: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """Remote access turned off behind the daemon's back: the running app still takes
    sessions (it keeps the setting it started with), so the early StartSession is granted;
    the description says "disabled", so that session is terminated and ssh gets the words
    it got before."""
    _wait_no_sessions(far)
    sm = _sagemaker(far)
    settings = {"SpaceSettings": {"RemoteAccess": "DISABLED"}}
    sm.update_space(DomainId=DOMAIN, SpaceName=SPACE, **settings)
    caplog.set_level(logging.INFO, logger=API_LOG)
    caplog.clear()
    try:
        done = far.ssh(HOST, "true", timeout=60)
        assert done.returncode == 255
        assert b"remote access is disabled for space 'editor'" in done.stderr, done.stderr
        _wait_no_sessions(far)
        calls = [c for c, _ in _records(caplog)]
        assert calls.count("StartSession -> 200") == 1, calls
        assert "TerminateSession -> 200" in calls, calls
    finally:
        settings = {"SpaceSettings": {"RemoteAccess": "ENABLED"}}
        sm.update_space(DomainId=DOMAIN, SpaceName=SPACE, **settings)


def test_a_stopped_space_is_refused_as_before_and_leaves_no_session(
    far: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    _wait_no_sessions(far)
    far.call("space.stop", {"space": SPACE, "endpoint_url": far.emu.endpoint_url})
    caplog.set_level(logging.INFO, logger=API_LOG)
    caplog.clear()
    try:
        # What the host's ProxyCommand with ``--no-start`` asks (the same identity as ssh's:
        # the config names the endpoint, so the region is left to it).
        url = far.emu.endpoint_url
        where = {"profile": None, "region": None, "endpoint_url": url}
        params = {**caller_params(far.env, None), **where, "host": HOST, "start": False}
        with pytest.raises(Exception, match="space 'editor' is not running"):
            far.call("proxy.open", params)
        calls = [c for c, _ in _records(caplog)]
        # Sent early on the known ARN and refused (no app InService): nothing to terminate.
        assert calls.count("StartSession -> ValidationException") == 1, calls
        assert not _live_sessions(far)
    finally:
        far.call("space.start", {"space": SPACE, "endpoint_url": far.emu.endpoint_url})
