"""Runs last (folder order): every log file the whole suite left in its temp homes is free of
the emulator's secret key, of unredacted tokens and of StreamUrl query strings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.emulator.config import DEFAULT_SECRET_ACCESS_KEY

LOG_NAMES = re.compile(r"(\.log(\.\d+)?|daemon\.log.*)$")
LEAKS = {
    "the emulator's secret key": re.compile(re.escape(DEFAULT_SECRET_ACCESS_KEY)),
    "an unredacted TokenValue": re.compile(r'"TokenValue"\s*:\s*"(?!<redacted>)[^"]{8,}'),
    "a StreamUrl query": re.compile(r"/v1/data-channel/[\w-]+\?(?!<redacted>)\w"),
    "a session token header": re.compile(r"X-Amz-Security-Token[=:]\s*(?!<redacted>)\w{12,}"),
}


def test_no_log_of_the_suite_holds_a_secret(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.getbasetemp()
    logs = [p for p in root.rglob("*") if p.is_file() and LOG_NAMES.search(p.name)]
    assert any(p.name == "daemon.log" for p in logs), "the suite left no daemon log to scan"
    found = []
    for path in logs:
        text = path.read_bytes().decode("utf-8", "replace")
        found += [
            f"{path.relative_to(root)}: {what}" for what, rx in LEAKS.items() if rx.search(text)
        ]
    assert not found, found


def test_the_scanner_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The patterns above are live: a planted leak of each kind is caught."""
    planted = [
        DEFAULT_SECRET_ACCESS_KEY,
        '{"TokenValue": "abcdefghijklmnop"}',
        "ws://127.0.0.1:1/v1/data-channel/user-0123?role=publish_subscribe",
        "X-Amz-Security-Token: IQoJb3JpZ2luX2VjEXAMPLE",
    ]
    for line, (what, rx) in zip(planted, LEAKS.items(), strict=True):
        assert rx.search(line), what
    safe = '{"TokenValue": "<redacted>"} ws://h/v1/data-channel/s-1?<redacted>'
    assert not any(rx.search(safe) for rx in LEAKS.values())
