"""`open/start --instance-type`: a type Studio does not know, or one with less than the 8 GiB
remote access needs, is refused before the running app is touched; `start --instance-type`
switches a running space only with consent (--yes without a terminal)."""

from __future__ import annotations

from typing import Any

from .cli_helpers import Cli


def _busy(cli: Cli) -> dict[str, Any]:
    return next(s for s in cli.run("list", "--json").ok().json() if s["name"] == "busy")


def test_bad_instance_types_are_refused_before_the_app_is_touched(cli: Cli) -> None:
    before = _busy(cli)
    assert before["app_status"] == "InService"
    for command in (["open", "busy", "--no-editor", "--yes"], ["start", "busy", "--yes"]):
        cli.run(*command, "--instance-type", "ml.bogus.xl").fails(
            2, "'ml.bogus.xl' is not a SageMaker Studio instance type"
        )
        cli.run(*command, "--instance-type", "ml.t3.medium").fails(
            2, "ml.t3.medium has 4 GiB", "at least 8 GiB", "ml.t3.large"
        )
    after = _busy(cli)
    assert (after["app_status"], after["app_created"], after["remote_access"]) == (
        "InService",
        before["app_created"],
        "DISABLED",
    )


def test_start_switches_the_instance_type_of_a_running_space_only_with_consent(cli: Cli) -> None:
    before = _busy(cli)
    assert before["instance_type"] != "ml.m5.xlarge"
    cli.run("start", "busy", "--instance-type", "ml.m5.xlarge").fails(
        1, "must restart to switch to ml.m5.xlarge", "--yes"
    )
    assert _busy(cli)["app_created"] == before["app_created"]
    started = cli.run("start", "busy", "--instance-type", "ml.m5.xlarge", "--yes", "--json")
    space = started.ok().json()
    # The progress lines (plain on stderr without a terminal) say what happens, and only that.
    assert "switching to ml.m5.xlarge" in started.stderr
    assert "enabling remote access" not in started.stderr
    assert (space["instance_type"], space["app_status"]) == ("ml.m5.xlarge", "InService")
    assert space["app_created"] != before["app_created"]  # restarted
    assert space["remote_access"] == "DISABLED"  # start changes the type, nothing else


def test_open_says_enabling_remote_access_only_when_it_does(cli: Cli) -> None:
    # editor has remote access on already: only the type changes (a Code Editor space: its app
    # starts in milliseconds, where JupyterLab's Jupyter server takes seconds).
    opened = cli.run("open", "editor", "--no-editor", "--instance-type", "ml.m5.xlarge").ok()
    assert "switching to ml.m5.xlarge" in opened.stderr
    assert "enabling remote access" not in opened.stderr
    locked = cli.run("open", "locked", "--no-editor").ok()
    assert "enabling remote access" in locked.stderr
