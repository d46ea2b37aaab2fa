"""Hostile mode: what the API returns carries injected ssh directives, escapes, metacharacters,
over-long and non-UTF-8 text, next to legitimate spaces that still work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.control.hostile import HOSTILE_DOMAIN_ID, HOSTILE_VALUES, LONG, NOT_UTF8

from .emulator_helpers import DOMAIN, client, make_config, space_arn, start_app


@pytest.fixture
def hostile() -> Iterator[EmulatorThread]:
    with start_in_thread(make_config(hostile=True)) as handle:
        yield handle


def _all_spaces(sm: Any) -> list[dict[str, Any]]:
    return [s for page in sm.get_paginator("list_spaces").paginate() for s in page["Spaces"]]


def test_hostile_strings_come_back_through_boto3(hostile: EmulatorThread) -> None:
    sm = client(hostile, "sagemaker")
    domains = {d["DomainId"]: d for d in sm.list_domains()["Domains"]}
    assert set(domains) == {DOMAIN, HOSTILE_DOMAIN_ID}
    assert "\nHost victim.example\n" in HOSTILE_DOMAIN_ID
    assert "\x1b]0;" in domains[HOSTILE_DOMAIN_ID]["DomainName"]
    spaces = _all_spaces(sm)
    names = {s["SpaceName"] for s in spaces}
    assert set(HOSTILE_VALUES.values()) <= names
    assert {"demo", "editor", "locked"} <= names
    by_name = {s["SpaceName"]: s for s in spaces}
    assert LONG in by_name
    assert by_name[NOT_UTF8]["SpaceDisplayName"] == f"notutf8{NOT_UTF8}"  # lone surrogates
    assert (
        "$(" in by_name[HOSTILE_VALUES["shell"]]["OwnershipSettingsSummary"]["OwnerUserProfileName"]
    )
    assert any(s["DomainId"] == HOSTILE_DOMAIN_ID for s in spaces)


def test_legitimate_spaces_still_work(hostile: EmulatorThread) -> None:
    sm = client(hostile, "sagemaker")
    start_app(sm, "ce1")
    time.sleep(0.35)
    assert sm.start_session(ResourceIdentifier=space_arn("ce1"))["TokenValue"]
    assert sm.describe_space(DomainId=DOMAIN, SpaceName="demo")["SpaceDisplayName"] == "demo"
