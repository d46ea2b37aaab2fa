"""What the AWS-layer tests share: a Studio client on an emulator, as a user's would be."""

from __future__ import annotations

import pytest

from bridge.aws.session import make_session
from bridge.aws.studio import StudioClient
from bridge.emulator import EmulatorThread

__all__ = ["studio_on"]


def studio_on(emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> StudioClient:
    """A StudioClient with the emulator's environment (and no profile of this machine's)."""
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return StudioClient(make_session(), poll_interval=0.05, app_timeout=30)
