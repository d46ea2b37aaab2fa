"""Every request runs as its caller (issue 13): the real CLI as subprocesses with different
environments, one real daemon, two emulators as two accounts."""

from __future__ import annotations

import json
import subprocess

import pytest

from bridge.emulator import EmulatorThread
from bridge.testing.sandbox import SMCONNECT, Sandbox

from .identity_helpers import ACCOUNTS, EXPIRED_KEY, daemon_cmdline, shell


def _names(proc: subprocess.CompletedProcess[str]) -> set[str]:
    assert proc.returncode == 0, proc.stderr
    return {s["name"] for s in json.loads(proc.stdout)}


def test_a_daemon_without_credentials_serves_each_shell_as_itself(
    sandbox: Sandbox, accounts: tuple[EmulatorThread, EmulatorThread]
) -> None:
    one, two = accounts
    started = sandbox.smconnect("daemon", "start")  # this environment holds no credentials
    assert started.returncode == 0, started.stderr
    assert _names(sandbox.smconnect("list", "--json", env=shell(one))) == {"alpha"}
    # Two shells at once on the one daemon: neither sees the other's account.
    shells = [
        subprocess.Popen(
            [SMCONNECT, "list", "--json"],
            env={**sandbox.env, **shell(emu)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for emu in (one, two, one, two)
    ]
    seen = []
    for proc in shells:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        seen.append({s["name"] for s in json.loads(out)})
    assert seen == [{"alpha"}, {"beta"}, {"alpha"}, {"beta"}]


def test_a_wrong_secret_is_refused_while_good_credentials_of_its_account_are_warm(
    sandbox: Sandbox, accounts: tuple[EmulatorThread, EmulatorThread]
) -> None:
    one, _ = accounts
    good = shell(one)
    # The daemon is started by, and keeps, a shell with good credentials for the account.
    assert _names(sandbox.smconnect("list", "--json", env=good)) == {"alpha"}
    wrong = sandbox.smconnect("list", env={**good, "AWS_SECRET_ACCESS_KEY": "x" * 40})
    assert wrong.returncode == 7, wrong.stderr
    assert "AWS_SECRET_ACCESS_KEY does not match" in wrong.stderr
    assert "Traceback" not in wrong.stderr and "x" * 40 not in wrong.stderr
    unknown = sandbox.smconnect("list", env={**good, "AWS_ACCESS_KEY_ID": "AKIANOBODYKNOWSTHIS1"})
    assert unknown.returncode == 7 and "does not know the access key" in unknown.stderr
    # ... and the good shell still works afterwards: nothing was poisoned either way.
    assert _names(sandbox.smconnect("list", "--json", env=good)) == {"alpha"}


EXPIRED = {
    "AWS_ACCESS_KEY_ID": EXPIRED_KEY[0],
    "AWS_SECRET_ACCESS_KEY": EXPIRED_KEY[1],
    "AWS_SESSION_TOKEN": EXPIRED_KEY[2],
    "AWS_CREDENTIAL_EXPIRATION": "1970-01-01T00:00:01Z",
}


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [
        (("list",), EXPIRED, 8, "exported in this shell expired at 1970-01-01T00:00:01Z"),
        (("--profile", "nosuch", "list"), {}, 10, "'nosuch' is not defined"),
    ],
    ids=["expired-export", "missing-profile"],
)
def test_each_cause_has_its_own_message_and_exit_code(
    sandbox: Sandbox,
    accounts: tuple[EmulatorThread, EmulatorThread],
    args: tuple[str, ...],
    env: dict[str, str],
    code: int,
    says: str,
) -> None:
    proc = sandbox.smconnect(*args, env=shell(accounts[0], **env))
    assert proc.returncode == code, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr


def test_exported_credentials_stay_out_of_titles_and_files(
    sandbox: Sandbox, accounts: tuple[EmulatorThread, EmulatorThread]
) -> None:
    one, two = accounts
    for emu in (one, two):
        assert sandbox.smconnect("list", "--json", env=shell(emu)).returncode == 0
    title = daemon_cmdline(sandbox)
    for key, secret, _ in ACCOUNTS.values():
        assert key not in title and secret not in title
    # Every file under the private HOME, runtime and state dirs: the session-finish scan
    # (tests/support/log_scan.py) searches them for these secrets, registered by the fixture.


def test_doctor_names_the_source_and_other_identities_channels(
    sandbox: Sandbox, accounts: tuple[EmulatorThread, EmulatorThread]
) -> None:
    one, two = accounts
    missing = sandbox.smconnect("doctor", "--profile", "nosuch", env=shell(one))
    assert "✗ AWS identity" in missing.stdout + missing.stderr
    assert "'nosuch' is not defined" in missing.stdout + missing.stderr
    # A channel held for account two (a forward), then doctor from account one's shell.
    fwd = sandbox.smconnect(
        "forward", "beta", "8888", "--background", "--json", env=shell(two), timeout=180
    )
    assert fwd.returncode == 0, fwd.stderr
    proc = sandbox.smconnect("doctor", env=shell(one))
    text = proc.stdout + proc.stderr
    assert "environment: long-term credentials exported in this shell" in text
    assert "also holds channels of exported credentials #" in text
    assert ACCOUNTS["222222222222"][1] not in text


def test_a_region_the_endpoint_does_not_serve_is_not_called_a_wrong_secret(
    sandbox: Sandbox, accounts: tuple[EmulatorThread, EmulatorThread]
) -> None:
    proc = sandbox.smconnect("list", "--region", "eu-west-1", env=shell(accounts[0]))
    assert proc.returncode == 4, proc.stderr
    assert "does not serve region 'eu-west-1' (the credentials are fine)" in proc.stderr
