"""Defence in depth (issue 15, defect 1): names from a hostile AWS endpoint never become ssh
directives, even if they got past the AWS layer's validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.emulator.control.hostile import HOSTILE_DOMAIN_ID, HOSTILE_VALUES
from bridge.ssh.aliases import SpaceRef
from bridge.ssh.config import SshConfig
from bridge.ssh.known_hosts import KnownHosts, KnownHostsError
from bridge.ssh.paths import SshPaths

from .sshcfg_helpers import ssh_g

LEGIT = SpaceRef("demo", "d-aaaaaaaaaaaa")
HOSTILE = [
    *(SpaceRef(text, "d-aaaaaaaaaaaa") for text in HOSTILE_VALUES.values()),
    SpaceRef("inside", HOSTILE_DOMAIN_ID),
    SpaceRef("demo2", "d-aaa\nHost *\n  ProxyCommand touch /tmp/pwned"),
]


def test_hostile_names_inject_no_directive(manager: SshConfig, paths: SshPaths) -> None:
    result = manager.install([LEGIT, *HOSTILE])
    assert result.aliases == ("sm-demo",)
    assert set(result.refused) == set(HOSTILE)
    content = paths.our_config.read_bytes()
    assert b"victim" not in content and b"pwned" not in content and b"Match" not in content
    assert b"\x1b" not in content and b"\r" not in content
    # ssh resolves the victim host as if smconnect were not installed: no ProxyCommand of ours.
    victim = ssh_g(paths.user_config, "victim.example")
    assert victim.get("proxycommand", "none") == "none"
    assert "smconnect" not in victim.get("proxycommand", "")
    assert ssh_g(paths.user_config, "sm-demo")["proxycommand"].endswith("proxy --fdpass %n")


def test_write_hosts_refuses_them_too(manager: SshConfig, paths: SshPaths) -> None:
    manager.install([LEGIT])
    manager.write_hosts([LEGIT, *HOSTILE])
    content = paths.our_config.read_text("utf-8", "surrogateescape")
    assert "victim" not in content and "pwned" not in content


@pytest.mark.parametrize("text", [*HOSTILE_VALUES.values(), "sm-x\nsm-y", "sm-x sm-y"])
def test_known_hosts_refuses_a_hostile_alias(tmp_path: Path, text: str) -> None:
    known = KnownHosts(tmp_path / "known_hosts")
    with pytest.raises(KnownHostsError):
        known.set_host_key(
            text, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ"
        )
    assert not (tmp_path / "known_hosts").exists()
