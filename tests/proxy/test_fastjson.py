"""``bridge.fastjson`` reads and writes what ``json`` does, for what the proxy exchanges."""

from __future__ import annotations

import json

import pytest

from bridge.fastjson import dumps, loads

SENT = [
    {},
    [],
    {"jsonrpc": "2.0", "id": 1, "method": "proxy.open", "params": {"host": "sm-demo"}},
    {"profile": None, "caller_env": True, "fdpass": False, "start": True, "n": -12345678901234},
    {"credentials": {"access_key_id": "AKIA", "secret_access_key": 'a"b\\c\n\t\u0001'}},
    {"é": "naïve ☃ \U0001f600", "list": [1, [2, {"x": None}], "", (3, 4)]},
]


@pytest.mark.parametrize("value", SENT)
def test_dumps_writes_what_json_dumps_writes(value: object) -> None:
    assert dumps(value) == json.dumps(value)
    assert loads(dumps(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize("value", [1.5, {1: "int key"}, b"bytes", {"set": {1}}])
def test_dumps_refuses_what_the_proxy_never_sends(value: object) -> None:
    with pytest.raises(TypeError):
        dumps(value)


READ = [
    b'{"jsonrpc": "2.0", "id": 1, "result": {"ticket": "t-\\u00e9"}}',
    b' \r\n\t{"a":[1,2.5e3,-0.25,true,false,null,"\\ud83d\\ude00"]} \n',
    '{"method": "progress", "params": {"message": "starting \u2026"}}'.encode(),
    b'"just a string"',
    b"[NaN, Infinity, -Infinity]",
    b'{"dup": 1, "dup": 2}',
    b"12",
]


@pytest.mark.parametrize("data", READ)
def test_loads_reads_what_json_loads_reads(data: bytes) -> None:
    got, want = loads(data), json.loads(data)
    assert repr(got) == repr(want)  # NaN != NaN: compare how they print


@pytest.mark.parametrize(
    "data", [b"", b"   ", b"{", b'{"a": 1', b'{"a": 1} x', b"[1,]", b"nope", b"\xff", b'"\\x"']
)
def test_loads_refuses_what_json_loads_refuses(data: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(data)
    with pytest.raises(ValueError):
        loads(data)
