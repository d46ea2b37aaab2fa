"""Fixtures: an emulator and a boto3 session signed with its credentials."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import EmulatorConfig


@pytest.fixture
def price_emu() -> Iterator[EmulatorThread]:
    with start_in_thread(EmulatorConfig()) as handle:
        yield handle


@pytest.fixture
def price_session(price_emu: EmulatorThread) -> boto3.Session:
    env = price_emu.env
    return boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
