"""The host key is pinned to what the daemon learnt for this app start: a different key on the
same start is refused, a restarted app (a new key the daemon learns) is accepted."""

from __future__ import annotations

import pytest

import smconnect
from bridge.testing.sandbox import Sandbox

from .api_helpers import ROTATING


def _swap_host_key_in_place(sandbox: Sandbox) -> None:
    """Restart the space's SSH runtime without a new app: same app start, another key (what a
    man in the middle would present)."""
    plane = sandbox.emu.emulator.plane

    async def swap() -> None:
        app = next(a for a in plane.account.apps.values() if a.space_name == ROTATING and a.runtime)
        await app.runtime.stop()
        await app.runtime.start()

    sandbox.emu.call(swap)


def _echo(space: str) -> bytes:
    with smconnect.paramiko_client(space) as client:
        _, stdout, _ = client.exec_command("echo pinned")
        return bytes(stdout.read())


async def test_a_changed_key_is_refused_and_a_restarted_app_accepted(sandbox: Sandbox) -> None:
    assert _echo(ROTATING) == b"pinned\n"

    _swap_host_key_in_place(sandbox)
    with pytest.raises(smconnect.HostKeyMismatch) as refused:
        _echo(ROTATING)
    assert "sm-rotating presented a host key other than" in str(refused.value)
    with pytest.raises(smconnect.HostKeyMismatch):
        await smconnect.connect(ROTATING)

    stopped = smconnect.stop(ROTATING)
    assert not stopped.running
    assert _echo(ROTATING) == b"pinned\n"  # started again: a new app, its key learnt afresh
    assert smconnect.status(ROTATING).running
