"""``space.open`` on a running app that must restart says why as data (``data.reason``), so a
client (the VS Code extension) words its own question instead of parsing the CLI's message.
A real daemon against the emulator, as a client in the sandbox would see it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.daemon.client import RpcError
from bridge.emulator import start_in_thread
from bridge.emulator.config import DelaysConfig, DomainConfig, SpaceConfig, default_config
from bridge.testing.sandbox import FAST_DAEMON, Sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    # One running CodeEditor space (its runtime starts in milliseconds) with remote access off.
    busy = SpaceConfig("busy", app_type="CodeEditor", remote_access="DISABLED", app_running=True)
    config = dataclasses.replace(
        default_config(),
        pacing="unthrottled",
        delays=DelaysConfig(app_start=0.1, app_stop=0.1, space_update=0.1),
        domains=(DomainConfig("d-emulator00001", "smconnect-demo", ("default-user",), (busy,)),),
    )
    with start_in_thread(config) as emulator:
        box = Sandbox.create(
            Path(tmp_path_factory.mktemp("home")),
            emulator.env,
            extra=FAST_DAEMON,
            emulator=emulator,
        )
        try:
            yield box
        finally:
            box.stop_daemon()


def test_restart_required_carries_the_reason(sandbox: Sandbox) -> None:
    endpoint = sandbox.emu.endpoint_url
    # `busy` runs with remote access off: enabling it needs a restart.
    with pytest.raises(RpcError) as caught:
        sandbox.call("space.open", {"space": "busy", "endpoint_url": endpoint})
    assert caught.value.kind == "restart_required"
    assert caught.value.data == {
        "kind": "restart_required",
        "reason": "remote_access",
        "space": "busy",
        "instance_type": None,
    }
    # Restarted with remote access on; now only a new instance type needs a restart.
    sandbox.call("space.open", {"space": "busy", "endpoint_url": endpoint, "restart": True})
    with pytest.raises(RpcError) as caught:
        sandbox.call(
            "space.open",
            {"space": "busy", "endpoint_url": endpoint, "instance_type": "ml.m5.large"},
        )
    assert caught.value.data["reason"] == "instance_type"
    assert caught.value.data["instance_type"] == "ml.m5.large"
