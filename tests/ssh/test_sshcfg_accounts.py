"""One ssh config for several accounts (issue 13 B): each host carries its own identity, an
install touches only its identity's hosts, and names never move from one identity to another."""

from __future__ import annotations

import pytest

from bridge.ssh.aliases import SpaceRef
from bridge.ssh.config import SshConfig
from bridge.ssh.errors import SshConfigError
from bridge.ssh.hosts import DEFAULT_CHAIN, HostIdentity
from bridge.ssh.known_hosts import KnownHosts
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import ConfigOptions, installed_table, names_for

from .sshcfg_helpers import ssh_g, write_user_config

A = HostIdentity("a", "us-east-1", None)
B = HostIdentity("b", None, "http://127.0.0.1:9")
DEMO_A = SpaceRef("demo", "d-aaaaaaaaaaaa")
DEMO_B = SpaceRef("demo", "d-bbbbbbbbbbbb")
TRAIN_B = SpaceRef("train", "d-bbbbbbbbbbbb")
MINE = b"# mine\nHost work\n    User me\n"


def _proxy(options: ConfigOptions, *args: str) -> str:
    return " ".join((*options.smconnect_command, *args, "proxy --fdpass %n"))


def test_each_identity_keeps_its_hosts_and_proxy_command(
    manager: SshConfig, paths: SshPaths, options: ConfigOptions
) -> None:
    write_user_config(paths.user_config, MINE)
    assert manager.install([DEMO_A], identity=A).aliases == ("sm-demo",)
    # b has a space of the same name: it gets the qualified name, a keeps the plain one.
    assert manager.install([DEMO_B, TRAIN_B], identity=B).aliases == ("sm-demo.b", "sm-train")
    assert ssh_g(paths.user_config, "sm-demo")["proxycommand"] == _proxy(
        options, "--profile", "a", "--region", "us-east-1"
    )
    for host in ("sm-demo.b", "sm-train"):
        assert ssh_g(paths.user_config, host)["proxycommand"] == _proxy(
            options, "--profile", "b", "--endpoint-url", "http://127.0.0.1:9"
        )
    # A space listed since: the wildcard passes no identity (the shell's default chain).
    assert ssh_g(paths.user_config, "sm-new")["proxycommand"] == _proxy(options)

    # Re-installing a (even with no spaces left) never touches b's hosts or their names.
    assert manager.install([], identity=A).aliases == ()
    assert [e.alias for e in installed_table(paths, "sm-")] == ["sm-demo.b", "sm-train"]
    assert manager.install([DEMO_B, TRAIN_B], identity=B).aliases == ("sm-demo.b", "sm-train")
    # Now a comes back: sm-demo.b stays b's, so a's demo is free to take the plain name.
    assert manager.install([DEMO_A], identity=A).aliases == ("sm-demo",)
    assert paths.user_config.read_bytes().endswith(MINE)


def test_no_profile_identity_is_qualified_as_default(manager: SshConfig) -> None:
    manager.install([DEMO_A], identity=A)
    assert manager.install([DEMO_B], identity=DEFAULT_CHAIN).aliases == ("sm-demo.default",)
    same_profile = HostIdentity("a", "eu-west-1", None)
    other = SpaceRef("demo", "d-cccccccccccc")
    assert manager.install([other], identity=same_profile).aliases == ("sm-demo.a",)
    third = HostIdentity("a", "eu-west-2", None)
    fourth = SpaceRef("demo", "d-dddddddddddd")
    assert manager.install([fourth], identity=third).aliases == ("sm-demo.a-eu-west-2",)


def test_daemon_names_match_the_file(manager: SshConfig, paths: SshPaths) -> None:
    manager.install([DEMO_A], identity=A)
    table = installed_table(paths, "sm-")
    # b's names before its install: what the install will write.
    assert names_for([DEMO_B, TRAIN_B], B, table, prefix="sm-") == {
        DEMO_B: "sm-demo.b",
        TRAIN_B: "sm-train",
    }
    assert names_for([DEMO_A], A, table, prefix="sm-") == {DEMO_A: "sm-demo"}


def test_remove_profile_leaves_the_others(
    manager: SshConfig, paths: SshPaths, options: ConfigOptions
) -> None:
    write_user_config(paths.user_config, MINE)
    manager.install([DEMO_A], identity=A)
    manager.install([DEMO_B], identity=B)
    known = KnownHosts.for_paths(paths)
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFcVTemY1NBgWGhRLdiRFS4Wd4ZnSlb1H9DqMsNsdtaE"
    known.set_host_key("sm-demo", key)
    known.set_host_key("sm-demo.b", key)
    user_before = paths.user_config.read_bytes()

    removed = manager.remove_profile("a")
    assert [e.alias for e in removed] == ["sm-demo"]
    assert [e.alias for e in installed_table(paths, "sm-")] == ["sm-demo.b"]
    assert known.hosts() == ("sm-demo.b",)
    assert paths.user_config.read_bytes() == user_before
    assert ssh_g(paths.user_config, "sm-demo.b")["proxycommand"].startswith(
        f"{options.smconnect_command[0]} --profile b "
    )
    assert manager.remove_profile("a") == ()
    # b keeps its name even though the plain one is free now.
    assert manager.install([DEMO_B], identity=B).aliases == ("sm-demo.b",)


def test_a_new_prefix_renames_every_identity(
    paths: SshPaths, manager: SshConfig, options: ConfigOptions
) -> None:
    manager.install([DEMO_A], identity=A)
    manager.install([DEMO_B], identity=B)
    dev = SshConfig(
        paths, ConfigOptions(smconnect_command=options.smconnect_command, prefix="dev-")
    )
    assert dev.install([DEMO_A], identity=A).aliases == ("dev-demo",)
    assert [e.alias for e in installed_table(paths, "dev-")] == ["dev-demo", "dev-demo.b"]


@pytest.mark.parametrize("profile", ["a\nHost *\n  ProxyCommand touch /tmp/pwned", 'a"b', "a\\b"])
def test_unsafe_identity_is_refused_and_nothing_written(
    manager: SshConfig, paths: SshPaths, profile: str
) -> None:
    with pytest.raises(SshConfigError, match="cannot go into an ssh config") as caught:
        manager.install([DEMO_A], identity=HostIdentity(profile))
    assert "\n" not in str(caught.value)
    assert not paths.our_config.exists() and not paths.user_config.exists()


def test_show_judges_only_the_callers_hosts(manager: SshConfig) -> None:
    manager.install([DEMO_A], identity=A)
    manager.install([DEMO_B], identity=B)
    status = manager.show([DEMO_A], identity=A)
    assert status.up_to_date is True and status.stale_hosts == () and status.problems == ()
    assert [(e.alias, e.identity) for e in status.entries] == [("sm-demo", A), ("sm-demo.b", B)]
    gone = manager.show([], identity=A)  # a's demo was deleted: only a's host is stale
    assert gone.stale_hosts == ("sm-demo",) and gone.up_to_date is False


def test_dry_run_diff_adds_only_the_new_identitys_lines(
    manager: SshConfig, paths: SshPaths
) -> None:
    write_user_config(paths.user_config, b"Host work\n    User me")  # no final newline
    manager.install([DEMO_A], identity=A)
    before = (paths.user_config.read_bytes(), paths.our_config.read_bytes())
    diff = manager.plan_install([DEMO_B], identity=B).diff()
    assert diff.startswith(f"--- {paths.our_config}\n+++ {paths.our_config}\n")
    added = [line for line in diff.splitlines() if line.startswith("+") and "+++" not in line]
    removed = [line for line in diff.splitlines() if line.startswith("-") and "---" not in line]
    assert "+Host sm-demo.b" in added and removed == []
    assert (paths.user_config.read_bytes(), paths.our_config.read_bytes()) == before
    assert manager.plan_install([DEMO_A], identity=A).diff() == ""

    fresh = SshConfig(SshPaths.for_home(paths.ssh_dir.parent / "other"), manager.options)
    first = fresh.plan_install([DEMO_A], identity=A).diff()
    assert "--- /dev/null\n" in first and first.endswith("\n")
