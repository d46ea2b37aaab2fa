"""Issue 16's CLI conventions: ssh-style arguments, flags that read right, ``smconnect logs``.

Against the real console script (and the real OpenSSH, through the emulator) where the
behaviour is the user's; the argument splitter and the log filter also on their own, for the
cases that would take minutes end to end.
"""

from __future__ import annotations

import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.cli.logs_cmd import Level, RecordFilter, parse_since
from bridge.cli.ssh_args import split

from .cli_helpers import Cli, read_until
from .help_helpers import help_screens

RFC3339_RECORD = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [A-Z]+ ")


def _help(*path: str) -> str:
    return help_screens()[path]


# -- flags that read right ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [(), ("list",), ("stop",), ("open",), ("logs",), ("ssh",)])
def test_help_shows_flags_without_a_value_and_ranges_in_words(path: tuple[str, ...]) -> None:
    text = _help(*path)
    assert "<bool>" not in text  # `--json <bool>` although `--json true` is rejected
    assert not re.search(r"x[<>]=|range>", text), text
    flag = re.search(r"│ --help\s+(\S.*?)\s*│", text)
    assert flag is not None and flag[1] == "Show this message and exit.", text


def test_ranges_and_stop_help_read_right() -> None:
    stop = _help("stop")
    assert "[at least 1]" in stop and "ready" not in stop
    assert "[at least 0]" in _help("logs")


def test_json_takes_no_value(offline_cli: Cli) -> None:
    offline_cli.run("list", "--json", "true").fails(2, "unexpected extra argument")


# -- ssh parses like ssh -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "ssh_options", "space", "command"),
    [
        (["-L", "9999:127.0.0.1:22", "demo"], ["-L", "9999:127.0.0.1:22"], "demo", []),
        (["demo", "-L", "1:h:2"], [], "demo", ["-L", "1:h:2"]),  # after the host: ssh reads it
        (["-p2222", "-vL", "1:h:2", "demo", "ls"], ["-p2222", "-vL", "1:h:2"], "demo", ["ls"]),
        (["-oUser=yes", "demo", "--", "uname", "-a"], ["-oUser=yes"], "demo", ["uname", "-a"]),
        (["-y", "-E", "log", "--timeout", "5", "demo"], ["-E", "log"], "demo", []),
        (["--", "demo", "ls"], [], "demo", ["ls"]),
        (["-v"], ["-v"], None, []),
    ],
)
def test_split_reads_ssh_options_before_the_space(
    args: list[str], ssh_options: list[str], space: str | None, command: list[str]
) -> None:
    parts = split(args)
    assert (parts.ssh_options, parts.space, parts.command) == (ssh_options, space, command)


def test_ssh_options_before_and_after_the_space(cli: Cli, tmp_path: Path) -> None:
    # -E takes a value: before, `-E FILE` was taken for the space ("no space named '-E'").
    before = tmp_path / "before.log"
    ran = cli.run("ssh", "-v", "-E", str(before), "--yes", "editor", "--", "echo", "before-ok")
    assert ran.ok().stdout.strip() == "before-ok"
    assert "debug1:" in before.read_text()  # ssh got -v and -E
    after = tmp_path / "after.log"
    ran = cli.run("ssh", "editor", "-v", "-E", str(after), "echo", "after-ok").ok()
    assert ran.stdout.strip() == "after-ok" and "debug1:" in after.read_text()
    cli.run("ssh", "-o", "ConnectTimeout=5").fails(2, "needs a space", "your spaces: ", "demo")

    # The daemon's log kept its default level clear of asyncssh's per-channel INFO lines.
    log = cli.run("logs", "-n", "100000").ok().stdout
    records = [line for line in log.splitlines() if RFC3339_RECORD.match(line)]
    assert records, log
    assert not [r for r in records if " INFO asyncssh" in r], log


# -- smconnect logs ----------------------------------------------------------------------------


def _write_log(cli: Cli, lines: list[str]) -> None:
    cli.state_dir.mkdir(parents=True, exist_ok=True)
    (cli.state_dir / "daemon.log").write_text("".join(f"{line}\n" for line in lines))


def test_logs_since_and_level(offline_cli: Cli) -> None:
    cli = offline_cli
    now = datetime.now(UTC)
    old = (now - timedelta(hours=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    new = (now - timedelta(minutes=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    _write_log(
        cli,
        [
            f"{old} ERROR smconnect.daemon [1] old error",
            f"{new} INFO smconnect.daemon [1] recent info",
            f"{new} WARNING smconnect.daemon.pool [1] recent warning",
            "Traceback (most recent call last):",
            f"{new} DEBUG smconnect.daemon [1] recent debug",
        ],
    )
    assert cli.run("logs", "--since", "10m").ok().stdout.splitlines() == [
        f"{new} INFO smconnect.daemon [1] recent info",
        f"{new} WARNING smconnect.daemon.pool [1] recent warning",
        "Traceback (most recent call last):",
        f"{new} DEBUG smconnect.daemon [1] recent debug",
    ]
    warned = cli.run("logs", "--level", "warning").ok().stdout.splitlines()
    assert warned == [
        f"{old} ERROR smconnect.daemon [1] old error",
        f"{new} WARNING smconnect.daemon.pool [1] recent warning",
        "Traceback (most recent call last):",
    ]
    since = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    both = cli.run("daemon", "logs", "--since", since, "--level", "error").ok()
    assert both.stdout == ""
    assert cli.run("logs", "-n", "1").ok().stdout.startswith(f"{new} DEBUG")
    cli.run("logs", "--since", "yesterday").fails(2, "--since", "30s, 10m, 1h, 2d")
    cli.run("logs", "--level", "loud").fails(2, "--level")


def test_logs_follow_filters_new_records(offline_cli: Cli) -> None:
    cli = offline_cli
    _write_log(cli, ["2026-01-01T00:00:00.000Z WARNING x [1] old"])
    proc = cli.popen("logs", "-f", "-n", "1", "--level", "warning")
    try:
        assert proc.stdout is not None
        read_until(proc.stdout, lambda ln: ln.endswith("old\n"), 30)
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with open(cli.state_dir / "daemon.log", "a") as f:
            f.write(f"{stamp} INFO x [1] quiet\n{stamp} ERROR x [1] loud\n")
        # The next line printed is the error: the INFO record before it was filtered out.
        assert read_until(proc.stdout, lambda ln: True, 10) == f"{stamp} ERROR x [1] loud\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_record_filter_and_since() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert parse_since("10m", now) == now - timedelta(minutes=10)
    assert parse_since("2d", now) == now - timedelta(days=2)
    assert parse_since("2026-11-30T11:00:00Z") == now - timedelta(hours=1)
    keep = RecordFilter(now, Level.info).keep
    assert not keep(b"2026-11-30T11:59:59.999Z INFO a [1] before\n")
    assert not keep(b"  continuation of the record before\n")
    assert keep(b"2026-11-30T12:00:00.000Z INFO a [1] at\n")
    assert keep(b"  continuation of the record at\n")
    assert not keep(b"2026-11-30T12:00:01.000Z DEBUG a [1] debug\n")
