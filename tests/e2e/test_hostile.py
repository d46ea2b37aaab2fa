"""A hostile AWS endpoint, through the real CLI, daemon and OpenSSH (issue 15).

The emulator's hostile mode lists, beside the legitimate spaces, a domain and spaces whose
strings carry ssh-config directives, shell metacharacters, terminal escapes, over-long and
non-UTF-8 text. Every command that lists spaces must leave them out with a warning naming the
bad field, write no directive, let no raw escape reach the terminal, and keep the legitimate
spaces usable.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator

import pytest

from bridge.emulator.config import default_config
from bridge.testing.sandbox import Sandbox

from .e2e_helpers import FAST_DELAYS, running_stack

RAW = ("\x1b", "\x07", "\r", "\x9b")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    config = dataclasses.replace(
        default_config(), pacing="unthrottled", delays=FAST_DELAYS, hostile=True
    )
    yield from running_stack(config, tmp_path_factory)


def _clean(proc: subprocess.CompletedProcess[str]) -> None:
    for stream in (proc.stdout, proc.stderr):
        for raw in RAW:
            assert raw not in stream, f"raw {raw!r} reached the terminal: {stream[:2000]!r}"


def _warnings(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("smconnect: warning: ")]


def _no_injection(box: Sandbox) -> None:
    ours = box.home / ".ssh" / "smconnect"
    for name in ("config", "known_hosts"):
        path = ours / name
        if path.exists():
            data = path.read_bytes()
            assert b"victim" not in data and b"pwned" not in data and b"Match" not in data
    got = subprocess.run(
        ["ssh", "-G", "-F", str(box.ssh_config), "victim.example"],
        capture_output=True,
        text=True,
        check=True,
        env=box.env,
    ).stdout
    assert "smconnect" not in got and "pwned" not in got


def test_list_warns_and_shows_only_the_legitimate_spaces(hostile: Sandbox) -> None:
    proc = hostile.smconnect("list")
    assert proc.returncode == 0, proc.stderr
    _clean(proc)
    assert "sm-demo" in proc.stdout
    warnings = _warnings(proc)
    assert any("invalid SpaceName" in w for w in warnings), proc.stderr
    assert any("invalid DomainId" in w for w in warnings), proc.stderr
    assert all(w.startswith("smconnect: warning: AWS answered List") for w in warnings)


def test_list_json_keeps_stdout_a_list_and_warns_on_stderr(hostile: Sandbox) -> None:
    proc = hostile.smconnect("list", "--json")
    assert proc.returncode == 0, proc.stderr
    _clean(proc)

    names = {s["name"] for s in json.loads(proc.stdout)}
    assert names == {"demo", "editor", "locked"}
    assert any("invalid SpaceName" in w for w in _warnings(proc))


def test_ssh_config_install_writes_no_directive(hostile: Sandbox) -> None:
    proc = hostile.smconnect("ssh-config", "install")
    assert proc.returncode == 0, proc.stderr
    _clean(proc)
    assert any("invalid SpaceName" in w for w in _warnings(proc))
    _no_injection(hostile)


def test_open_a_legitimate_space_then_ssh_works(hostile: Sandbox) -> None:
    proc = hostile.smconnect("open", "demo", "--yes", "--no-editor")
    assert proc.returncode == 0, proc.stderr
    _clean(proc)
    assert any("invalid SpaceName" in w for w in _warnings(proc))
    _no_injection(hostile)
    ssh = hostile.ssh("sm-demo", "true")
    assert ssh.returncode == 0, ssh.stderr
    _no_injection(hostile)


def test_status_and_doctor_show_nothing_raw(hostile: Sandbox) -> None:
    hostile.smconnect("list")  # the daemon has listed: status reports what it left out
    status = hostile.smconnect("status")
    assert status.returncode == 0, status.stderr
    _clean(status)
    assert any("invalid SpaceName" in w for w in _warnings(status)), status.stderr
    as_json = hostile.smconnect("status", "--json")
    assert any("invalid SpaceName" in r for r in json.loads(as_json.stdout)["rejected"])
    assert any("invalid SpaceName" in w for w in _warnings(as_json)), as_json.stderr
    doctor = hostile.smconnect("doctor")  # fails for want of VS Code here; the output matters
    _clean(doctor)
    assert any("invalid SpaceName" in w for w in _warnings(doctor)), doctor.stderr
    assert "ssh config: installed" in doctor.stdout
    _no_injection(hostile)
