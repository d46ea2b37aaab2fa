"""What the real OpenSSH client makes of the result (``ssh -G``), for our hosts and others."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.ssh.aliases import SpaceRef
from bridge.ssh.config import SshConfig
from bridge.ssh.errors import NotEffectiveError
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import ConfigOptions

from .sshcfg_helpers import SPACES, ssh_g, write_user_config

USER = (
    b"ForwardAgent yes\n"
    b"ConnectTimeout 5\n"
    b"Host other\n"
    b"    HostName other.example.com\n"
    b"    User alice\n"
    b"    StrictHostKeyChecking ask\n"
    b"Host *\n"
    b"    User everyone\n"
    b"    ProxyCommand /usr/bin/false %h\n"
    b"    StrictHostKeyChecking no\n"
    b"    UserKnownHostsFile /dev/null\n"
    b"    Port 2222\n"
)


def test_our_hosts_get_our_settings(
    manager: SshConfig, paths: SshPaths, options: ConfigOptions
) -> None:
    write_user_config(paths.user_config, USER)
    result = manager.install(SPACES)
    assert result.aliases == ("sm-demo", "sm-train.d-aaaaaaaaaaaa", "sm-train.d-bbbbbbbbbbbb")

    for host, alias in [
        ("sm-demo", "sm-demo"),
        ("sm-train.d-bbbbbbbbbbbb", "sm-train.d-bbbbbbbbbbbb"),
    ]:
        got = ssh_g(paths.user_config, host)
        assert got["proxycommand"] == "/opt/smconnect/bin/smconnect proxy --fdpass %n"
        assert got["user"] == "sagemaker-user"
        assert got["userknownhostsfile"] == str(paths.known_hosts)
        assert got["globalknownhostsfile"] == "none"
        assert got["stricthostkeychecking"] == "true"
        assert got["hostkeyalias"] == alias
        assert got["hostname"] == alias
        assert got["port"] == "22"
        assert got["serveraliveinterval"] == "30"
        assert got["serveralivecountmax"] == "10"
        assert got["connecttimeout"] == "900"
        assert got["updatehostkeys"] == "false"
        assert got["forwardagent"] == "yes"  # the user's own top-level options still apply


def test_wildcard_serves_spaces_not_listed_yet(manager: SshConfig, paths: SshPaths) -> None:
    write_user_config(paths.user_config, USER)
    manager.install(SPACES)
    got = ssh_g(paths.user_config, "sm-brand-new")
    assert got["proxycommand"] == "/opt/smconnect/bin/smconnect proxy --fdpass %n"
    assert got["user"] == "sagemaker-user"
    assert got["userknownhostsfile"] == str(paths.known_hosts)
    assert got["stricthostkeychecking"] == "true"
    assert got["hostname"] == "sm-brand-new"  # known_hosts is looked up under this name
    assert got["port"] == "22"
    assert "hostkeyalias" not in got


def test_a_differently_cased_alias_still_gets_a_lower_case_key_name(
    manager: SshConfig, paths: SshPaths
) -> None:
    """OpenSSH 9.2 matches ``Host`` patterns case-sensitively, so ``sm-DEMO`` misses the
    explicit ``Host sm-demo`` but still gets the wildcard block, and ssh looks its key up under
    the lower-cased host name: the name ``known_hosts`` stores (``host_key_alias``)."""
    write_user_config(paths.user_config, USER)
    manager.install(SPACES)
    got = ssh_g(paths.user_config, "sm-DEMO")
    assert got["proxycommand"] == "/opt/smconnect/bin/smconnect proxy --fdpass %n"
    assert got["hostname"] == "sm-demo"
    assert got["stricthostkeychecking"] == "true"


def test_other_hosts_keep_their_own_settings(manager: SshConfig, paths: SshPaths) -> None:
    write_user_config(paths.user_config, USER)
    before_other = ssh_g(paths.user_config, "other")
    before_any = ssh_g(paths.user_config, "example.org")
    manager.install(SPACES)
    assert ssh_g(paths.user_config, "other") == before_other
    assert ssh_g(paths.user_config, "example.org") == before_any
    assert before_other["stricthostkeychecking"] == "ask"
    assert before_other["user"] == "alice"
    assert before_other["proxycommand"] == "/usr/bin/false %h"


def test_top_level_options_after_include_stay_global(manager: SshConfig, paths: SshPaths) -> None:
    """Our file ends inside a ``Host sm-*`` block; ssh must not carry that scope back into the
    user's file, or their top-level options would silently stop applying to other hosts."""
    write_user_config(paths.user_config, b"Compression yes\nHost other\n  User alice\n")
    manager.install(SPACES)
    assert ssh_g(paths.user_config, "example.org")["compression"] == "yes"


def test_paths_with_spaces_quotes_and_percent(tmp_path: Path) -> None:
    home = tmp_path / "my home's %d [x]"
    exe = tmp_path / "Program Files" / "sm connect's %h"
    paths = SshPaths.for_home(home)
    mgr = SshConfig(paths, ConfigOptions(smconnect_command=(str(exe), "--flag")))
    mgr.install(SPACES)
    got = ssh_g(paths.user_config, "sm-demo")
    assert got["userknownhostsfile"] == str(paths.known_hosts)
    # ssh shows the ProxyCommand before % expansion; ``sh -c`` later undoes the quoting.
    assert (
        got["proxycommand"]
        == f"'{tmp_path}/Program Files/sm connect'\"'\"'s %%h' --flag proxy --fdpass %n"
    )
    assert got["user"] == "sagemaker-user"


def test_check_reports_a_moved_include(manager: SshConfig, paths: SshPaths) -> None:
    write_user_config(paths.user_config, b"Host *\n  User everyone\n")
    manager.install(SPACES)
    data = paths.user_config.read_bytes()
    marker, include, rest = data.split(b"\n", 2)
    paths.user_config.write_bytes(rest + marker + b"\n" + include + b"\n")
    status = manager.show(SPACES, validate=True)
    assert not status.include_first
    assert any("below a Host/Match line" in p for p in status.problems)


def test_check_names_the_overridden_setting(manager: SshConfig, paths: SshPaths) -> None:
    write_user_config(paths.user_config, b"Host *\n  User everyone\n")
    manager.install(SPACES)
    marker, include, rest = paths.user_config.read_bytes().split(b"\n", 2)
    paths.user_config.write_bytes(rest + marker + b"\n" + include + b"\n")
    with pytest.raises(NotEffectiveError) as exc:
        manager.check(["sm-demo"])
    assert str(exc.value).startswith(
        "ssh does not use smconnect's user for sm-demo (it has 'everyone')"
    )
    manager.install(SPACES)  # moves the Include back first
    manager.check(["sm-demo"])


def test_unusual_space_names_are_refused_but_their_aliases_stay_valid_hosts(
    manager: SshConfig, paths: SshPaths
) -> None:
    # Names outside SageMaker's documented pattern get no explicit Host entry (nothing of
    # them is written), but their aliases are still plain host names the wildcard serves.
    spaces = [
        SpaceRef("my space", "d-a"),
        SpaceRef("über_data", "d-a"),
        SpaceRef("x*y", "d-a"),
        SpaceRef("demo", "d-a"),
    ]
    result = manager.install(spaces)
    assert result.aliases == ("sm-demo",)
    assert set(result.refused) == set(spaces[:3])
    content = paths.our_config.read_text()
    assert "my space" not in content and "x*y" not in content and "über" not in content
    for alias in ("sm-my_20space", "sm-_c3_bcber_5fdata", "sm-x_2ay.d-a", "sm-demo"):
        got = ssh_g(paths.user_config, alias)
        assert got["proxycommand"] == "/opt/smconnect/bin/smconnect proxy --fdpass %n"
    manager.check(result.aliases)
