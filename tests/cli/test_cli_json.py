"""Every ``--json`` output against the JSON Schema docs/cli.md documents for it (issue 16).

The schemas live in docs/cli.md ("JSON output"), one ``<!-- json-schema: COMMAND -->`` fenced
block per command plus a shared ``$defs`` block, so the reference users read is the one the
real commands are held to. Beyond the schemas, every string in any output that looks like a
date must be RFC 3339 UTC with ``Z``: three formats were in use (``str(datetime)``, ``…Z``,
epoch floats), and a new field must not bring a fourth.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jsonschema
import pytest

from bridge.timestamps import parse_rfc3339, rfc3339

from .cli_helpers import Cli
from .help_helpers import DOC, help_tree

_BLOCK = re.compile(
    r"<!-- json-schema: (?P<name>[^>]+?) -->\n(?:(?!```)[^\n]*\n)*?```json\n(?P<body>.*?)\n```",
    re.S,
)
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
LOOKS_LIKE_A_DATE = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
TIME_KEYS = re.compile(r"(_at|_time|created|started|last_activity|timestamp)$")


@cache
def schemas() -> dict[str, dict[str, Any]]:
    found = {m["name"]: json.loads(m["body"]) for m in _BLOCK.finditer(DOC.read_text())}
    defs = found.pop("$defs")
    return {name: {**schema, "$defs": defs} for name, schema in found.items()}


def check(command: str, data: Any) -> None:
    """``data`` matches the documented schema of ``command``, and its timestamps are RFC 3339."""
    jsonschema.Draft202012Validator(schemas()[command]).validate(data)
    for key, value in _leaves(data):
        if isinstance(value, str) and (LOOKS_LIKE_A_DATE.match(value) or TIME_KEYS.search(key)):
            assert RFC3339_Z.match(value), f"{command}: {key}={value!r} is not RFC 3339 with Z"
        if TIME_KEYS.search(key) and value is not None:
            assert isinstance(value, str), f"{command}: {key}={value!r} is not an RFC 3339 string"


def _leaves(data: Any, key: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, str(k))]
    if isinstance(data, list):
        return [leaf for v in data for leaf in _leaves(v, key)]
    return [(key, data)]


def test_every_command_with_json_has_a_documented_schema() -> None:
    with_json = {path for path, screen in help_tree().items() if "--json" in screen.options}
    assert with_json, "no command lists --json: the help parser is broken"
    assert with_json == set(schemas()), (
        f"undocumented: {sorted(with_json - set(schemas()))}, "
        f"documented but without --json: {sorted(set(schemas()) - with_json)}"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-30 16:43:04.15+00:00", "2026-11-30T16:43:04.150Z"),  # str() of boto3's datetime
        ("2026-11-30T17:43:04+01:00", "2026-11-30T16:43:04.000Z"),
        ("2026-11-30T16:43:04Z", "2026-11-30T16:43:04.000Z"),
        (datetime(2026, 11, 30, 16, 43, 4, tzinfo=UTC).timestamp(), "2026-11-30T16:43:04.000Z"),
        (datetime(2026, 11, 30, 16, 43, 4), "2026-11-30T16:43:04.000Z"),  # naive: UTC
    ],
)
def test_rfc3339_normalises_the_three_formats(value: Any, expected: str) -> None:
    assert rfc3339(value) == expected
    assert parse_rfc3339(expected) == parse_rfc3339(rfc3339(parse_rfc3339(expected)))


@pytest.mark.long
def test_every_json_output_matches_its_schema(cli: Cli) -> None:
    stopped = cli.run("daemon", "status", "--json")  # not running yet: exit 5, still JSON
    assert stopped.returncode == 5
    check("daemon status", stopped.json())
    spaces = cli.run("list", "--json").ok().json()
    check("list", spaces)
    busy = next(s for s in spaces if s["name"] == "busy")
    assert busy["app_created"] is not None  # a running app: its creation time, RFC 3339

    started = cli.run("start", "editor", "--json").ok().json()
    check("start", started)
    opened = cli.run("open", "demo", "--no-editor", "--yes", "--json").ok().json()
    check("open", opened)
    # The same space, the same fields, whichever command printed it.
    listed = {s["ref"]: s for s in cli.run("list", "--json").ok().json()}
    assert set(listed[started["ref"]]) == set(started) == set(opened["space"])
    assert listed[opened["space"]["ref"]]["app_created"] == opened["space"]["app_created"]

    fwd = cli.run("forward", "demo", "0:8888", "--background", "--json").ok().json()
    check("forward", fwd)
    check("forward", cli.run("forward", "--list", "--json").ok().json())
    status = cli.run("status", "--json").ok().json()
    check("status", status)
    assert status["sessions"] and status["forwards"]
    check("daemon status", cli.run("daemon", "status", "--json").ok().json())
    check("forward", cli.run("forward", "--close", fwd["id"], "--json").ok().json())
    check("keep-alive", cli.run("keep-alive", "--json").ok().json())
    check("keep-alive", cli.run("keep-alive", "demo", "always", "--json").ok().json())
    check("keep-alive", cli.run("keep-alive", "demo", "default", "--refresh", "--json").ok().json())

    check("kernels", cli.run("kernels", "demo", "--json").ok().json())
    check("kernels", cli.run("kernels", "demo", "--close", "--json").ok().json())
    check("ssh-config install", cli.run("ssh-config", "install", "--json").ok().json())
    check("ssh-config show", cli.run("ssh-config", "show", "--json").ok().json())
    check("stop", cli.run("stop", "editor", "--json").ok().json())
    check("doctor", cli.run("doctor", "--json").json())  # no VS Code here: exit 1, still JSON
    check("ssh-config remove", cli.run("ssh-config", "remove", "--json").ok().json())
