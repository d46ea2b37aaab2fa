"""daemon start/stop/status/logs, status without a daemon, and the failure paths of reaching it."""

from __future__ import annotations

import os
import signal

from .cli_helpers import Cli, read_until


def test_daemon_start_status_stop(offline_cli: Cli) -> None:
    cli = offline_cli
    assert cli.run("daemon", "status", "--json").json() == {"running": False}
    not_running = cli.run("daemon", "status")
    assert not_running.returncode == 5 and "not running" in not_running.stdout
    assert cli.run("status", "--json").ok().json() == {
        "daemon": None,
        "sessions": [],
        "forwards": [],
        "rejected": [],
        "spaces": [],
        "spare_connections": [],
    }

    started = cli.run("daemon", "start").ok().stdout
    pid = cli.daemon_pid()
    assert pid is not None and f"started (pid {pid})" in started
    assert f"already running (pid {pid})" in cli.run("daemon", "start").ok().stdout
    status = cli.run("daemon", "status", "--json").ok().json()
    assert status["running"] is True and status["pid"] == pid

    stopped = cli.run("daemon", "stop").ok().stdout
    assert f"stopped (pid {pid})" in stopped
    assert cli.daemon_pid() is None
    assert "not running" in cli.run("daemon", "stop").ok().stdout


def test_daemon_logs_tail_and_follow(offline_cli: Cli) -> None:
    cli = offline_cli
    assert "no daemon log yet" in cli.run("daemon", "logs").ok().stderr
    cli.run("daemon", "start").ok()
    log = cli.state_dir / "daemon.log"
    with open(log, "a") as f:
        f.write("first marker line\n")
    tail = cli.run("daemon", "logs", "-n", "1").ok().stdout
    assert tail == "first marker line\n"
    assert cli.run("daemon", "logs", "-n", "0").ok().stdout == ""

    # The last old line shows that the follower is running (a slow start must not race the
    # write below); nothing after it has been printed yet.
    proc = cli.popen("daemon", "logs", "-f", "-n", "1")
    try:
        assert proc.stdout is not None
        read_until(proc.stdout, lambda ln: ln == "first marker line\n", 30)
        with open(log, "a") as f:
            f.write("second marker line\n")
        read_until(proc.stdout, lambda ln: ln == "second marker line\n", 10)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
        assert proc.stderr is not None
        assert proc.stderr.read() == ""  # Ctrl-C is quiet
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unsafe_runtime_dir_is_daemon_unavailable(offline_cli: Cli) -> None:
    cli = offline_cli
    cli.runtime_dir.mkdir(mode=0o700)
    os.chmod(cli.runtime_dir, 0o777)
    try:
        cli.run("list").fails(5, "accessible to other users", "daemon logs")
    finally:
        os.chmod(cli.runtime_dir, 0o700)


def test_no_credentials_is_exit_4(offline_cli: Cli) -> None:
    cli = offline_cli
    env = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    cli.run("list", **env).fails(4, "credentials")
