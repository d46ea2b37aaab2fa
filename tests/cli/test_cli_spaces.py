"""list / open / ssh / start / stop against the emulator, through the real console script."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from .cli_helpers import DOMAIN, OTHER_DOMAIN, SMCONNECT, Cli, fake_editor

LIST_FIELDS = {  # the space's fields of start/stop/open too (docs/cli.md, "JSON output")
    "name",
    "arn",
    "owner",
    "app_created",
    "domain_id",
    "domain_name",
    "ref",
    "status",
    "app_type",
    "instance_type",
    "remote_access",
    "app_status",
    "ssh_host",
    "running_since",  # what a running space costs (test_cli_costs.py)
    "last_activity",
    "idle_timeout_minutes",
    "idle_shutdown_at",
    "price_per_hour",
    "currency",
    "price_source",
}


def test_list_json_and_table(cli: Cli) -> None:
    spaces = cli.run("list", "--json").ok().json()
    assert isinstance(spaces, list)
    assert all(set(s) == LIST_FIELDS for s in spaces)
    by_ref = {s["ref"]: s for s in spaces}
    demo = by_ref[f"{DOMAIN}/demo"]
    assert demo["ssh_host"] == "sm-demo"
    assert (demo["app_type"], demo["remote_access"], demo["app_status"]) == (
        "JupyterLab",
        "ENABLED",
        None,
    )
    assert by_ref[f"{DOMAIN}/busy"]["app_status"] == "InService"
    # A name in two domains gets domain-qualified host names.
    assert by_ref[f"{DOMAIN}/twin"]["ssh_host"] == f"sm-twin.{DOMAIN}"
    assert by_ref[f"{OTHER_DOMAIN}/twin"]["ssh_host"] == f"sm-twin.{OTHER_DOMAIN}"

    table = cli.run("list", COLUMNS="200").ok().stdout
    assert "SSH host" in table.splitlines()[0]
    demo_row = next(line for line in table.splitlines() if line.startswith("demo "))
    assert demo_row.split() == [
        "demo",
        DOMAIN,
        "InService",
        "JupyterLab",
        "ml.t3.large",
        "ENABLED",
        "stopped",
        "-",  # up, idle stop, price: not running
        "-",
        "-",
        "sm-demo",
    ]


def test_open_demo_then_ssh_runs_a_command(cli: Cli) -> None:
    result = cli.run("open", "demo", "--no-editor", "--yes", "--json").ok().json()
    assert result["ssh_host"] == "sm-demo"
    assert result["folder_uri"] == "vscode-remote://ssh-remote+sm-demo/home/sagemaker-user"
    assert result["space"]["app_status"] == "InService"
    # The daemon wrote the ssh config under the test's HOME, and our known_hosts has the key.
    assert cli.ssh_config.read_text().splitlines()[1] == f'Include "{cli.our_config}"'
    assert "Host sm-demo\n" in cli.our_config.read_text()
    known = (cli.home / ".ssh" / "smconnect" / "known_hosts").read_text()
    assert result["host_key"] in known

    # `smconnect ssh` execs the real ssh, whose ProxyCommand goes through the daemon.
    ran = cli.run("ssh", "demo", "--", "echo", "hello-from", "$(whoami)").ok()
    assert ran.stdout.strip().startswith("hello-from ")

    # The human form of open prints the ssh command when there is no editor.
    human = cli.run("open", "demo").ok()
    assert "ssh sm-demo" in human.stdout
    # --shell becomes ssh: its remote shell reads our stdin.
    shell = cli.run("open", "demo", "--shell", stdin_text="echo via-$((6 * 7))-shell\n").ok()
    assert "via-42-shell" in shell.stdout and "ssh sm-demo" not in shell.stdout


def test_open_locked_enables_remote_access(cli: Cli) -> None:
    before = {s["name"]: s for s in cli.run("list", "--json").ok().json()}
    assert before["locked"]["remote_access"] == "DISABLED"
    result = cli.run("open", "locked", "--no-editor", "--json").ok().json()
    assert result["ssh_host"] == "sm-locked"
    assert result["space"]["remote_access"] == "ENABLED"
    assert result["space"]["app_status"] == "InService"


def test_unknown_space_is_one_line_exit_3(cli: Cli) -> None:
    for command in (["open", "nosuch", "--no-editor"], ["start", "nosuch"], ["ssh", "nosuch"]):
        line = cli.run(*command).fails(3, "no space named 'nosuch'")
        assert "smconnect list" in line


def test_ambiguous_space_names_both_domains(cli: Cli) -> None:
    cli.run("open", "twin", "--no-editor").fails(
        3, "several domains", f"{DOMAIN}/twin", f"{OTHER_DOMAIN}/twin"
    )
    # domain-id/name picks one: start it, then stop it.
    started = cli.run("start", f"{OTHER_DOMAIN}/twin", "--json").ok().json()
    assert (started["domain_id"], started["app_status"]) == (OTHER_DOMAIN, "InService")
    assert started["ssh_host"] == f"sm-twin.{OTHER_DOMAIN}"
    stopped = cli.run("stop", f"{OTHER_DOMAIN}/twin").ok()
    assert "twin" in stopped.stdout and "running" not in stopped.stdout
    spaces = cli.run("list", "--json").ok().json()
    twin = next(s for s in spaces if s["ref"] == f"{OTHER_DOMAIN}/twin")
    assert twin["app_status"] in (None, "Deleted")


def test_restart_required_without_a_terminal_needs_yes(cli: Cli) -> None:
    line = cli.run("open", "busy", "--no-editor").fails(1, "busy", "restart", "--yes")
    assert "answer yes" not in line
    spaces = {s["name"]: s for s in cli.run("list", "--json").ok().json()}
    assert spaces["busy"]["remote_access"] == "DISABLED"  # nothing changed

    result = cli.run("open", "busy", "--no-editor", "--yes", "--json").ok().json()
    assert result["space"]["remote_access"] == "ENABLED"
    assert result["space"]["app_status"] == "InService"


def _interactive_open(cli: Cli, answer: bytes) -> tuple[int, str]:
    """``smconnect open busy`` with stdin and stderr on a pty, answering the restart prompt."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [SMCONNECT, "open", "busy", "--no-editor"],
        env={**cli.env, "TERM": "dumb"},
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the pty
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"Restart the space to apply? [y/N]" in seen:
                os.write(master, answer + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        proc.wait(30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert answered, seen.decode(errors="replace")
    text = seen.decode(errors="replace")
    assert "Traceback" not in text
    return proc.returncode, text + out


def test_restart_prompt_on_a_terminal(cli: Cli) -> None:
    code, text = _interactive_open(cli, b"n")
    assert code == 1
    assert "smconnect: not restarted; the space is unchanged" in text
    code, text = _interactive_open(cli, b"y")
    assert code == 0, text
    assert "ssh sm-busy" in text
    spaces = {s["name"]: s for s in cli.run("list", "--json").ok().json()}
    assert spaces["busy"]["remote_access"] == "ENABLED"


def test_open_starts_the_editor_with_the_folder_uri(cli: Cli, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = fake_editor(bin_dir, "code")
    env = {"PATH": f"{bin_dir}:{cli.env['PATH']}", "SMCONNECT_EDITOR": ""}
    out = cli.run("open", "editor", **env).ok()
    assert "Opened editor in code" in out.stdout
    assert log.read_text().splitlines() == [
        "--folder-uri",
        "vscode-remote://ssh-remote+sm-editor/home/sagemaker-user",
    ]
    # SMCONNECT_EDITOR picks another editor; one that is not on PATH is a warning, not a crash.
    other = fake_editor(bin_dir, "my-editor")
    cli.run("open", "editor", **{**env, "SMCONNECT_EDITOR": "my-editor --new-window"}).ok()
    assert other.read_text().splitlines()[0] == "--new-window"
    missing = cli.run("open", "editor", **{**env, "SMCONNECT_EDITOR": "nope-editor"}).ok()
    assert "nope-editor" in missing.stderr and "ssh sm-editor" in missing.stdout


def test_global_and_per_command_profile(cli: Cli) -> None:
    cli.run("list", "--profile", "nope").fails(10, "'nope'")
    cli.run("--profile", "nope", "list").fails(10, "'nope'")
    cli.run("list", "--region", "eu-west-1").fails(4)


def test_ssh_without_openssh_fails_before_starting_anything(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    cli.run("ssh", "editor", PATH=str(empty)).fails(6, "ssh was not found on PATH")
    spaces = {s["name"]: s for s in cli.run("list", "--json").ok().json()}
    assert spaces["editor"]["app_status"] is None


def test_open_timeout_is_one_line(cli: Cli) -> None:
    # JupyterLab takes a couple of seconds to come up; a 1 s budget runs out first.
    cli.run("open", "demo", "--no-editor", "--timeout", "1").fails(1, "within 1s", "smconnect list")
