"""``show`` (status for the CLI) and ``write_hosts`` (the daemon's refresh)."""

from __future__ import annotations

from pathlib import Path

from bridge.ssh.aliases import SpaceRef
from bridge.ssh.config import SshConfig
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import ConfigOptions, render_config

from .sshcfg_helpers import SPACES, ssh_g, write_user_config


def test_status_before_and_after_install(
    manager: SshConfig, paths: SshPaths, options: ConfigOptions
) -> None:
    status = manager.show(SPACES)
    assert not status.installed and not status.include_present and status.content is None
    assert any("does not include" in p for p in status.problems)

    write_user_config(paths.user_config, b"Host other\n")
    manager.install(SPACES)
    status = manager.show(SPACES, validate=True)
    assert status.installed and status.include_first and status.command_current
    assert status.up_to_date is True
    assert status.content == render_config(SPACES, options, paths).text
    assert status.hosts == ("sm-demo", "sm-train.d-aaaaaaaaaaaa", "sm-train.d-bbbbbbbbbbbb")
    assert status.stale_hosts == () and status.missing_hosts == ()
    assert status.problems == ()
    assert manager.show().up_to_date is None  # no space list: cannot tell


def test_stale_and_missing_hosts(manager: SshConfig) -> None:
    manager.install(SPACES)
    now = [SpaceRef("demo", "d-aaaaaaaaaaaa"), SpaceRef("fresh", "d-aaaaaaaaaaaa")]
    status = manager.show(now)
    assert status.up_to_date is False
    assert status.stale_hosts == ("sm-train.d-aaaaaaaaaaaa", "sm-train.d-bbbbbbbbbbbb")
    assert status.missing_hosts == ("sm-fresh",)
    assert any("out of date" in p for p in status.problems)


def test_another_smconnect_path_is_reported(manager: SshConfig, paths: SshPaths) -> None:
    manager.install(SPACES)
    moved = SshConfig(paths, ConfigOptions(smconnect_command=("/usr/local/bin/smconnect",)))
    status = moved.show(SPACES)
    assert not status.command_current
    assert any("another smconnect" in p for p in status.problems)
    moved.install(SPACES)
    assert moved.show(SPACES).command_current
    got = ssh_g(paths.user_config, "sm-demo")
    assert got["proxycommand"] == "/usr/local/bin/smconnect proxy --fdpass %n"


def test_write_hosts_refreshes_only_an_installed_setup(manager: SshConfig, paths: SshPaths) -> None:
    assert not manager.write_hosts(SPACES)  # not installed: nothing appears
    assert not paths.smconnect_dir.exists()

    manager.install([])
    assert manager.show().hosts == ()
    assert manager.write_hosts(SPACES)
    assert not manager.write_hosts(SPACES)
    assert manager.show().hosts == (
        "sm-demo",
        "sm-train.d-aaaaaaaaaaaa",
        "sm-train.d-bbbbbbbbbbbb",
    )
    assert ssh_g(paths.user_config, "sm-train.d-bbbbbbbbbbbb")["hostkeyalias"] == (
        "sm-train.d-bbbbbbbbbbbb"
    )

    manager.remove()
    assert not manager.write_hosts(SPACES)
    assert not paths.smconnect_dir.exists()


def test_case_collisions_keep_one_explicit_host(
    manager: SshConfig, paths: SshPaths, options: ConfigOptions
) -> None:
    spaces = [SpaceRef("Demo", "d-a"), SpaceRef("demo", "d-a")]
    result = manager.install(spaces)
    assert result.aliases == ("sm-Demo",)
    assert result.collisions == (("demo", "d-a"),)


def test_plan_is_a_dry_run(manager: SshConfig, paths: SshPaths) -> None:
    write_user_config(paths.user_config, b"Host other\n")
    plan = manager.plan_install(SPACES)
    assert plan.changes_anything and plan.user_after is not None
    assert plan.user_after.endswith(b"Host other\n")
    assert paths.user_config.read_bytes() == b"Host other\n"
    assert not paths.smconnect_dir.exists()
    manager.apply(plan)
    assert not manager.plan_install(SPACES).changes_anything


def test_explicit_ssh_dir_and_prefix(tmp_path: Path) -> None:
    paths = SshPaths.in_ssh_dir(tmp_path / "custom-ssh")
    assert paths.user_config == tmp_path / "custom-ssh" / "config"
    assert paths.known_hosts == tmp_path / "custom-ssh" / "smconnect" / "known_hosts"
    options = ConfigOptions(smconnect_command=("/opt/smconnect",), prefix="studio.")
    result = SshConfig(paths, options).install(SPACES)
    assert result.aliases[0] == "studio.demo"
    got = ssh_g(paths.user_config, "studio.demo")
    assert got["proxycommand"] == "/opt/smconnect proxy --fdpass %n"
    assert got["userknownhostsfile"] == str(paths.known_hosts)
    assert "proxycommand" not in ssh_g(paths.user_config, "sm-demo")
