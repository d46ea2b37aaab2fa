"""Config files: JSON and YAML into typed dataclasses, with errors that name the bad key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bridge.emulator.config import (
    DEFAULT_ACCESS_KEY_ID,
    EmulatorConfig,
    LimitsConfig,
    default_config,
)
from bridge.emulator.config_check import ConfigError
from bridge.emulator.config_load import config_from_mapping, load_config
from bridge.emulator.control.wiring import BrokerGateway

YAML = """
region: eu-west-1
account_id: "210987654321"
pacing: unthrottled
credentials:
  - access_key_id: ASIAEXAMPLE000000001
    secret_access_key: s3cret
    session_token: tok
    expires_at: 2030-01-01T00:00:00Z
    arn: arn:aws:sts::210987654321:assumed-role/Dev/alice
delays: {app_start: 0.5, start_session_failure_window: 0}
faults: {fail_app_start: [b]}
domains:
  - id: d-abc123
    name: team
    user_profiles: [alice, bob]
    spaces:
      - {name: a, app_type: CodeEditor, owner: bob, instance_type: ml.m5.large}
      - {name: b, remote_access: DISABLED, sharing: Shared, app_running: true}
"""


def test_default_seed() -> None:
    cfg = default_config()
    assert cfg.credentials[0].access_key_id == DEFAULT_ACCESS_KEY_ID
    assert len(DEFAULT_ACCESS_KEY_ID) == 20
    assert (cfg.region, cfg.account_id) == ("us-east-1", "123456789012")
    (domain,) = cfg.domains
    spaces = {s.name: s for s in domain.spaces}
    assert (spaces["demo"].app_type, spaces["demo"].remote_access) == ("JupyterLab", "ENABLED")
    assert spaces["editor"].app_type == "CodeEditor"
    assert (spaces["locked"].app_type, spaces["locked"].remote_access) == ("JupyterLab", "DISABLED")
    assert not any(s.app_running for s in domain.spaces)


def test_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "emu.yaml"
    path.write_text(YAML)
    cfg = load_config(path)
    assert (cfg.region, cfg.account_id, cfg.pacing) == ("eu-west-1", "210987654321", "unthrottled")
    (cred,) = cfg.credentials
    assert cred.session_token == "tok"
    assert cred.expires_at == 1893456000.0
    assert cfg.delays.app_start == 0.5
    assert cfg.delays.app_stop == 2.0  # untouched defaults stay
    assert cfg.faults.fail_app_start == ("b",)
    (domain,) = cfg.domains
    assert domain.user_profiles == ("alice", "bob")
    a, b = domain.spaces
    assert (a.owner, a.instance_type, a.app_type) == ("bob", "ml.m5.large", "CodeEditor")
    assert (b.owner, b.sharing, b.app_running, b.remote_access) == (
        "alice",
        "Shared",
        True,
        "DISABLED",
    )


def test_json_file_and_empty_mapping(tmp_path: Path) -> None:
    path = tmp_path / "emu.json"
    path.write_text('{"port": 8765, "domains": []}')
    cfg = load_config(path)
    assert (cfg.port, cfg.domains) == (8765, ())
    assert config_from_mapping({}).domains == default_config().domains


def test_overrides() -> None:
    cfg = EmulatorConfig().with_overrides(port=9000, pacing="unthrottled")
    assert (cfg.port, cfg.pacing) == (9000, "unthrottled")
    with pytest.raises(ConfigError, match="--port"):
        EmulatorConfig().with_overrides(port=70000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"domains": [{"id": "d-x1", "spaces": [{"name": "a", "app_type": "Foo"}]}]},
         "domains[0].spaces[0].app_type: expected one of JupyterLab, CodeEditor, got 'Foo'"),
        ({"domains": [{"id": "bad"}]}, "domains[0].id: 'bad' is not a valid value"),
        ({"domains": [{"id": "d-x1", "spaces": [{"name": "a", "owner": "zed"}]}]},
         "domains[0].spaces[0].owner: 'zed' is not a user profile of this domain"),
        ({"domains": [{"id": "d-x1", "spaces": [{"name": "a"}, {"name": "a"}]}]},
         "domains[0].spaces: 'a' appears twice"),
        ({"credentials": [{"access_key_id": "short", "secret_access_key": "x"}]},
         "credentials[0].access_key_id: 'short' is not a valid value"),
        ({"credentials": [{"access_key_id": "AKIAEXAMPLE000000001"}]},
         "credentials[0].secret_access_key: required"),
        ({"delays": {"app_start": -1}}, "delays.app_start: expected seconds (a number >= 0)"),
        ({"pacing": "fast"}, "pacing: expected one of realistic, unthrottled, got 'fast'"),
        ({"colour": "blue"}, "config: unknown key 'colour'"),
        ({"tls": "yes"}, "config.tls: expected true or false, got a string"),
        ([1, 2], "config: expected a mapping, got a list"),
    ],
)  # fmt: skip
def test_errors_name_the_key(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert str(info.value) == message


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="invalid JSON at line 1"):
        load_config(bad)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("a: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad_yaml)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"domains": [{"id": "d-abc\n"}]}, "domains[0].id"),
        ({"domains": [{"id": "d-abc", "spaces": [{"name": "demo\n"}]}]}, "domains[0].spaces[0]"),
        ({"domains": [{"id": "d-abc", "user_profiles": ["u\n"]}]}, "user_profiles[0]"),
        ({"account_id": "123456789012\n"}, "account_id"),
    ],
)
def test_patterns_refuse_a_trailing_newline(data: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(where)):
        config_from_mapping(data)


def test_limits_and_minutes() -> None:
    cfg = config_from_mapping(
        {
            "limits": {"sessions_per_space": 3, "session_idle_timeout_minutes": 0},
            "minute_seconds": 1,
        }
    )
    assert (cfg.limits.sessions_per_space, cfg.limits.session_idle_timeout_minutes) == (3, 0.0)
    assert cfg.minute_seconds == 1.0
    assert EmulatorConfig().limits.sessions_per_space == 10
    for bad in (
        {"limits": {"sessions_per_space": 0}},
        {"limits": {"session_idle_timeout_minutes": 61}},
        {"minute_seconds": 0},
        {"domains": [{"id": "d-abc", "idle_timeout_minutes": 59}]},
    ):
        with pytest.raises(ConfigError):
            config_from_mapping(bad)
    assert EmulatorConfig().with_overrides(minute_seconds=0.5, session_limit=4).limits == (
        LimitsConfig(sessions_per_space=4)
    )
    assert EmulatorConfig().with_overrides(hostile=True).hostile
    assert config_from_mapping({"hostile": True}).hostile


def test_agent_burst_reaches_the_agents_core() -> None:
    """1 paces as the real agent does (one message per write); the default keeps bursts."""
    assert EmulatorConfig().agent_burst == 16
    assert config_from_mapping({"agent_burst": 1}).agent_burst == 1
    assert EmulatorConfig().with_overrides(agent_burst=32).agent_burst == 32
    for bad in (0, 33):
        with pytest.raises(ConfigError, match="agent_burst"):
            config_from_mapping({"agent_burst": bad})
        with pytest.raises(ConfigError, match="--agent-burst"):
            EmulatorConfig().with_overrides(agent_burst=bad)
    gateway = BrokerGateway(agent_burst=1)
    assert gateway.broker._core_config().pace_batch == 1
    assert BrokerGateway().broker._core_config().pace_batch == 16


def test_tls_is_off_unless_asked() -> None:
    assert not EmulatorConfig().tls
    assert not default_config().tls
    assert config_from_mapping({"tls": True}).tls
    assert EmulatorConfig().with_overrides(tls=True).tls
    assert config_from_mapping({"tls": True}).with_overrides(tls=None).tls
