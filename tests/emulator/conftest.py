"""Fixtures: a real emulator on a background thread and real boto3 clients pointed at it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import CredentialConfig

from .emulator_helpers import client, make_config


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    extra = CredentialConfig("ASIAEMULATORSESSION1", "sessionSecret", session_token="tok-1")
    expired = CredentialConfig(
        "ASIAEMULATOREXPIRED1", "expiredSecret", session_token="tok-2", expires_at=time.time() - 5
    )
    cfg = make_config()
    cfg = replace(cfg, credentials=(*cfg.credentials, extra, expired))
    with start_in_thread(cfg) as handle:
        yield handle


@pytest.fixture
def sm(emu: EmulatorThread) -> Any:
    return client(emu, "sagemaker")


@pytest.fixture
def ssm(emu: EmulatorThread) -> Any:
    return client(emu, "ssm")
