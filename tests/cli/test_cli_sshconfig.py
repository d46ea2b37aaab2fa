"""ssh-config install / show / remove: the user's own file survives byte for byte."""

from __future__ import annotations

from .cli_helpers import DOMAIN, OTHER_DOMAIN, Cli

# Latin-1 in a comment, a Host * default, no final newline: all must come back unchanged.
ORIGINAL = b"# my config \xe9t\xe9\nHost *\n    ServerAliveInterval 5\n\nHost work\n    User me"


def test_install_show_remove_round_trip(cli: Cli) -> None:
    cli.ssh_config.parent.mkdir(mode=0o700)
    cli.ssh_config.write_bytes(ORIGINAL)

    out = cli.run("ssh-config", "install").ok().stdout
    assert f"Include line at the top of {cli.ssh_config}" in out
    assert "sm-demo" in out and f"sm-twin.{OTHER_DOMAIN}" in out
    backups = list(cli.ssh_config.parent.glob("config.smconnect-backup-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == ORIGINAL
    assert f"backup of the previous file: {backups[0]}" in out
    data = cli.ssh_config.read_bytes()
    assert data.split(b"\n")[1] == f'Include "{cli.our_config}"'.encode()
    assert data.endswith(ORIGINAL)
    ours = cli.our_config.read_text()
    assert "Host sm-demo\n" in ours and f"Host sm-twin.{DOMAIN}\n" in ours

    status = cli.run("ssh-config", "show", "--validate", "--json").ok().json()
    assert status["installed"] and status["include_first"] and status["command_current"]
    assert status["problems"] == []
    assert "sm-demo" in status["hosts"] and status["content"] == ours
    shown = cli.run("ssh-config", "show").ok().stdout
    assert "No problems found." in shown and "Host sm-demo" in shown

    again = cli.run("ssh-config", "install").ok().stdout
    assert "already up to date" in again
    assert len(list(cli.ssh_config.parent.glob("config.smconnect-backup-*"))) == 1

    removed = cli.run("ssh-config", "remove").ok().stdout
    assert f"Removed smconnect's Include line from {cli.ssh_config}" in removed
    assert cli.ssh_config.read_bytes() == ORIGINAL
    assert not cli.our_config.parent.exists()
    assert "nothing to remove" in cli.run("ssh-config", "remove").ok().stdout
    status = cli.run("ssh-config", "show", "--json").ok().json()
    assert not status["installed"] and status["problems"]


def test_install_with_a_prefix_and_json(cli: Cli) -> None:
    result = cli.run("ssh-config", "install", "--prefix", "dev-", "--json").ok().json()
    assert "dev-demo" in result["aliases"]
    assert result["user_config_changed"] and result["backup"] is None  # there was no file
    assert "Host dev-*\n" in cli.our_config.read_text()
    removed = cli.run("ssh-config", "remove", "--json").ok().json()
    assert removed["user_config_deleted"] is True
    assert not cli.ssh_config.exists()
    cli.run("ssh-config", "install", "--prefix", "no spaces").fails(2, "prefix")


def test_unusable_user_config_is_one_line(cli: Cli) -> None:
    cli.ssh_config.mkdir(parents=True)  # a directory where the file should be
    cli.run("ssh-config", "install").fails(6, str(cli.ssh_config))
    cli.run("ssh-config", "show").fails(6, str(cli.ssh_config))


def test_no_fdpass_writes_the_relay_form_and_refreshes_keep_it(cli: Cli) -> None:
    cli.run("ssh-config", "install", "--no-fdpass").ok()
    ours = cli.our_config.read_text()
    assert "    ProxyUseFdpass no\n" in ours and " proxy %n\n" in ours
    status = cli.run("ssh-config", "show", "--json").ok().json()
    assert status["command_current"] and status["problems"] == []
    assert "already up to date" in cli.run("ssh-config", "install").ok().stdout
    cli.run("ssh-config", "install", "--fdpass").ok()
    ours = cli.our_config.read_text()
    assert "    ProxyUseFdpass yes\n" in ours and " proxy --fdpass %n\n" in ours
