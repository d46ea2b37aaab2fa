"""One ssh config, two accounts (issue 13 B), for real: profiles ``a`` and ``b`` point at two
emulators that both have a space ``demo``; after installing for each, OpenSSH reaches each
account's own space by the ``ssh_host`` that ``list`` shows, and the user's file is untouched."""

from __future__ import annotations

from typing import Any, cast

from bridge.emulator import EmulatorThread

from .accounts_helpers import add_default_profile
from .cli_helpers import Cli

MINE = b"# my own settings\nHost work\n    User me\n"


def _files(cli: Cli) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (cli.ssh_config, cli.our_config) if p.exists()}


def _ssh_host(cli: Cli, profile: str) -> str:
    listed = cli.run("--profile", profile, "list", "--json").ok().json()
    (demo,) = [s for s in listed if s["name"] == "demo"]
    return str(demo["ssh_host"])


def _show(cli: Cli) -> dict[str, Any]:
    return cast(dict[str, Any], cli.run("ssh-config", "show", "--json").ok().json())


def _ssh(cli: Cli, host: str, command: str) -> str:
    proc = cli.ssh(host, command)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode()


def test_two_accounts_with_the_same_space_name(
    accounts_cli: Cli, accounts: dict[str, EmulatorThread]
) -> None:
    cli = accounts_cli
    cli.ssh_config.parent.mkdir(mode=0o700)
    cli.ssh_config.write_bytes(MINE)

    cli.run("--profile", "a", "ssh-config", "install").ok()
    with_include = cli.ssh_config.read_bytes()
    assert with_include.endswith(MINE)

    # A dry run prints the diff it would apply and writes nothing.
    before = _files(cli)
    dry = cli.run("--profile", "b", "ssh-config", "install", "--dry-run").ok().stdout
    assert f"--- {cli.our_config}" in dry and "+Host sm-demo.b" in dry
    assert "-Host sm-demo" not in dry  # a's host stays
    assert _files(cli) == before

    out = cli.run("--profile", "b", "ssh-config", "install").ok().stdout
    assert "sm-demo.b" in out
    assert cli.ssh_config.read_bytes() == with_include  # the user's file: only our Include

    hosts = {p: _ssh_host(cli, p) for p in ("a", "b")}
    assert hosts == {"a": "sm-demo", "b": "sm-demo.b"}
    for profile, host in hosts.items():
        _ssh(cli, host, f"echo account-{profile} > ~/marker")
    for profile, host in hosts.items():
        assert _ssh(cli, host, "cat ~/marker") == f"account-{profile}\n"

    assert {(e["host"], e["profile"]) for e in _show(cli)["host_entries"]} == {
        ("sm-demo", "a"),
        ("sm-demo.b", "b"),
    }
    human = cli.run("ssh-config", "show").ok().stdout
    assert "sm-demo.b  space d-accountb0001/demo  profile b" in human

    # Installing again (and opening without a profile) changes nothing of either account.
    settled = _files(cli)
    again = cli.run("--profile", "a", "ssh-config", "install", "--dry-run", "--json").ok().json()
    assert again["dry_run"] and again["diff"] == "" and again["aliases"] == ["sm-demo"]
    assert _files(cli) == settled

    # b's host asked for as a: refused with a line naming whose host it is, never a's demo.
    wrong = cli.run("--profile", "a", "proxy", "--no-start", "sm-demo.b")
    assert wrong.returncode == 1 and "for profile b, not for profile a" in wrong.stderr

    # `open` without a profile (the default chain, here a's account again) adds its own host
    # and rewrites nobody else's.
    add_default_profile(cli, accounts["a"], "a")
    opened = cli.run("open", "demo", "--no-editor", "--yes", "--json").ok().json()
    assert opened["ssh_host"] == "sm-demo.default"
    table = {e["host"]: e["profile"] for e in _show(cli)["host_entries"]}
    assert table == {"sm-demo": "a", "sm-demo.b": "b", "sm-demo.default": None}
    assert _ssh(cli, "sm-demo.default", "cat ~/marker") == "account-a\n"
    assert _ssh(cli, "sm-demo.b", "cat ~/marker") == "account-b\n"

    removed = cli.run("ssh-config", "remove", "--profile", "a", "--json").ok().json()
    assert [h["host"] for h in removed["removed_hosts"]] == ["sm-demo"]
    assert cli.ssh_config.read_bytes() == with_include
    assert "Host sm-demo\n" not in cli.our_config.read_text()
    assert _ssh(cli, "sm-demo.b", "cat ~/marker") == "account-b\n"

    cli.run("ssh-config", "remove").ok()
    assert cli.ssh_config.read_bytes() == MINE
