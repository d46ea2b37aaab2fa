"""``daemon.info`` on a real spawned daemon: the facts the VS Code extension asks instead of
re-deriving them (paths, host prefix, remote home, the ~/.aws profiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.daemon.client import DaemonClient
from bridge.paths import DaemonPaths


async def info_of(paths: DaemonPaths) -> dict[str, object]:
    async with DaemonClient.connect(paths=paths, start_timeout=20) as c:
        return dict(await c.call("daemon.info", timeout=10))


async def test_info_answers_paths_prefix_home_and_profiles(
    daemon_paths: DaemonPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws = tmp_path / "aws"
    aws.mkdir()
    (aws / "config").write_text(
        "[profile work]\nregion = eu-west-1\n\n[default]\nregion = us-east-1\n"
        "[sso-session corp]\nsso_region = us-east-1\n[services local]\n"
    )
    (aws / "credentials").write_text("[keys-only]\naws_access_key_id = AKIA\n[work]\n")
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))

    info = await info_of(daemon_paths)
    assert info["runtime_dir"] == str(daemon_paths.runtime_dir)
    assert info["state_dir"] == str(daemon_paths.state_dir)
    assert info["log"] == str(daemon_paths.log)
    assert info["transport"] == "unix"
    assert info["host_prefix"] == "sm-"  # nothing installed yet: the default
    assert info["remote_home"] == "/home/sagemaker-user"
    assert info["profiles"] == [
        {"name": "default", "region": "us-east-1"},
        {"name": "keys-only", "region": None},
        {"name": "work", "region": "eu-west-1"},
    ]


async def test_info_follows_the_installed_prefix_and_missing_aws_files(
    daemon_paths: DaemonPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none2"))
    async with DaemonClient.connect(paths=daemon_paths, start_timeout=20) as c:
        first = await c.call("daemon.info", timeout=10)
        assert first["profiles"] == [] and first["host_prefix"] == "sm-"
        # What `smconnect ssh-config install --prefix lab-` leaves behind, read per call.
        our = home / ".ssh" / "smconnect" / "config"
        our.parent.mkdir()
        our.write_text("Host lab-*\n    User sagemaker-user\n")
        assert (await c.call("daemon.info", timeout=10))["host_prefix"] == "lab-"
