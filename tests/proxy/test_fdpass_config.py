"""The generated ssh config chooses the path: descriptor passing by default, the relay on
request, and the choice survives a later refresh (``installed_fdpass``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bridge.ssh.config import SshConfig
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import ConfigOptions, installed_fdpass
from tests.ssh.sshcfg_helpers import SPACES, ssh_g

COMMAND = ("/opt/smconnect/bin/smconnect",)


def test_both_forms_as_openssh_reads_them(tmp_path: Path) -> None:
    paths = SshPaths.for_home(tmp_path)
    assert installed_fdpass(paths) is None  # nothing installed: the default applies
    options = ConfigOptions(smconnect_command=COMMAND)
    SshConfig(paths, options).install(SPACES)
    got = ssh_g(paths.user_config, "sm-demo")
    assert got["proxycommand"] == "/opt/smconnect/bin/smconnect proxy --fdpass %n"
    assert got["proxyusefdpass"] == "yes"
    assert installed_fdpass(paths) is True

    SshConfig(paths, dataclasses.replace(options, fdpass=False)).install(SPACES)
    got = ssh_g(paths.user_config, "sm-demo")
    assert got["proxycommand"] == "/opt/smconnect/bin/smconnect proxy %n"
    assert got["proxyusefdpass"] == "no"
    assert installed_fdpass(paths) is False
    relay = SshConfig(paths, dataclasses.replace(options, fdpass=False)).show(SPACES)
    assert relay.command_current and relay.up_to_date
