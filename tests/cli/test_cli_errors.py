"""The guard in ``run()``: no traceback ever reaches the user; and shell completion."""

from __future__ import annotations

import subprocess
import sys

from bridge.emulator import EmulatorThread

from .cli_helpers import Cli

BOOM = """
import sys
from bridge.cli import app as cli_app

@cli_app.app.command("boom")
def boom() -> None:
    raise RuntimeError("kaboom password=hunter2")

sys.argv = ["smconnect", "boom"]
cli_app.run()
"""


def test_an_unexpected_error_is_one_line_and_logged(offline_cli: Cli) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", BOOM],
        env=offline_cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    log = offline_cli.state_dir / "cli.log"
    assert proc.stderr.splitlines() == [
        f"smconnect: unexpected error: RuntimeError: kaboom password=<redacted> (details in {log})"
    ]
    text = log.read_text()
    assert "Traceback" in text and "kaboom" in text and "hunter2" not in text
    assert log.stat().st_mode & 0o777 == 0o600


def test_usage_errors_exit_2_without_traceback(offline_cli: Cli) -> None:
    for args in (["open"], ["nosuchcommand"], ["list", "--bogus"], []):
        result = offline_cli.run(*args)
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr
        if args:  # a usage error is one line that says where to look; no args shows the help
            assert result.stderr.count("\n") == 1 and result.stderr.startswith("smconnect: ")
            assert "--help" in result.stderr


def test_shell_completion(cli: Cli) -> None:
    # typer guesses the shell from the parent process unless told not to; under a CI runner or
    # a background job there is no shell to find, so name it (typer's own testing switch).
    no_guess = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    script = cli.run("--show-completion", "bash", **no_guess).ok().stdout
    assert "_SMCONNECT_COMPLETE" in script
    commands = cli.run(
        **{"_SMCONNECT_COMPLETE": "complete_bash", "COMP_WORDS": "smconnect st", "COMP_CWORD": "1"}
    )
    assert set(commands.ok().stdout.split()) >= {"start", "status", "stop"}
    spaces = cli.run(
        **{
            "_SMCONNECT_COMPLETE": "complete_bash",
            "COMP_WORDS": "smconnect open ",
            "COMP_CWORD": "2",
        }
    )
    # twin exists in two domains: it completes as domain-id/name.
    assert set(spaces.ok().stdout.split()) == {
        "demo",
        "editor",
        "locked",
        "busy",
        "d-emulator00001/twin",
        "d-emulator00002/twin",
    }


def _complete(cli: Cli, words: str) -> set[str]:
    """What bash completion offers for the last word of ``words`` (empty after a space)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {"_SMCONNECT_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    return set(cli.run(**env).ok().stdout.split())


def test_completion_of_profiles_regions_instance_types_and_forwards(cli: Cli) -> None:
    aws = cli.home / ".aws"
    aws.mkdir()
    (aws / "config").write_text("[default]\nregion = us-east-1\n[profile work]\n[profile wide]\n")
    (aws / "credentials").write_text("[wallet]\naws_access_key_id = x\n")
    assert _complete(cli, "smconnect --profile w") == {"work", "wide", "wallet"}
    assert _complete(cli, "smconnect list --profile wo") == {"work"}
    assert {"eu-west-1", "eu-west-2", "eu-west-3"} <= _complete(cli, "smconnect --region eu-w")
    assert "us-east-1" not in _complete(cli, "smconnect list --region eu-")
    types = _complete(cli, "smconnect open demo --instance-type ml.t3.")
    assert {"ml.t3.medium", "ml.t3.large"} <= types and all(t.startswith("ml.t3.") for t in types)

    assert _complete(cli, "smconnect forward --close ") == set()  # no daemon yet: none started
    # A Code Editor space: its app starts in milliseconds (JupyterLab's server takes seconds).
    fwd = cli.run("forward", "editor", "0:8888", "--background", "--json").ok().json()
    assert _complete(cli, "smconnect forward --close ") == {fwd["id"]}
    cli.run("forward", "--close", fwd["id"]).ok()


def test_a_bad_region_or_endpoint_is_a_configuration_error(cli: Cli) -> None:
    """One line naming what to check, the AWS-setup exit code; no exception name."""
    for args, needle in (
        (["list", "--region", "bad region!"], "region"),
        (["--endpoint-url", "ftp://nowhere", "list"], "is not an http:// or https:// URL"),
        (["--endpoint-url", "not a url", "list"], "is not an http:// or https:// URL"),
    ):
        message = cli.run(*args).fails(4, needle)
        assert "Error:" not in message and "ValueError" not in message, message


def test_an_app_that_fails_to_start_says_why_and_what_to_do(emu: EmulatorThread, cli: Cli) -> None:
    """The emulator's fail_app_start fault: DescribeApp's FailureReason, then the fix."""

    async def fail() -> None:
        emu.emulator.plane.faults.fail_app_start.add("editor")

    emu.call(fail)
    line = cli.run("start", "editor").fails(1, "the app of space 'editor' failed to start")
    assert "emulated fault (faults.fail_app_start)" in line
    assert "`smconnect start editor`" in line and "--instance-type" in line


def test_a_domain_or_region_that_does_not_fit_says_how(cli: Cli) -> None:
    line = cli.run("start", "d-nosuch00000/demo").fails(3, "d-nosuch00000' does not exist")
    assert "in region us-east-1" in line and "smconnect list" in line and "--region" in line
    # The emulator, like an endpoint of one region, rejects a signature for another region:
    # not the credentials' fault, so not "sign in again".
    # (Exported credentials meet it first in the identity check, a profile in the Studio call.)
    line = cli.run("list", "--region", "eu-west-1").fails(4, "does not serve region")
    assert "eu-west-1" in line and "smconnect login" not in line and "--region" in line


def test_no_space_in_this_region_suggests_another(empty_cli: Cli) -> None:
    line = empty_cli.run("start", "demo").fails(3, "sees no Studio space in region us-east-1")
    assert "pass --region or set AWS_REGION" in line
