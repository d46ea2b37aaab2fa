"""`smconnect stop` with something open on the space: it lists what stopping would end and,
without a terminal, refuses unless --yes (real ssh through the daemon and the emulator)."""

from __future__ import annotations

import subprocess

from .cli_helpers import Cli, read_until


def test_stop_refuses_without_yes_while_an_ssh_session_is_open(cli: Cli) -> None:
    # A Code Editor space: what stop refuses is the same for any app, and its runtime starts in
    # milliseconds where JupyterLab's Jupyter server takes seconds.
    cli.run("open", "editor", "--no-editor", "--yes").ok()
    done = cli.ssh("sm-editor", "true")  # a finished session leaves nothing open behind
    assert done.returncode == 0, done.stderr
    ssh = subprocess.Popen(
        cli.ssh_argv("sm-editor", "echo session-ready; sleep 120"),
        env=cli.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        read_until(ssh.stdout, lambda line: "session-ready" in line, timeout=60)
        line = cli.run("stop", "editor").fails(
            1, "space 'editor' has 1 open", "ssh session", "--yes"
        )
        assert "would end" in line
        spaces = {s["name"]: s for s in cli.run("list", "--json").ok().json()}
        assert spaces["editor"]["app_status"] == "InService"  # untouched
        assert ssh.poll() is None  # the session lives on

        stopped = cli.run("stop", "editor", "--yes", "--json").ok().json()
        assert stopped["app_status"] is None
        assert ssh.wait(timeout=60) != 0  # the session ended with the app
    finally:
        ssh.kill()
        ssh.communicate()
    # Nothing open any more: a plain stop needs no --yes (and the app is already gone).
    cli.run("stop", "editor").ok()
