"""The token gate's request handling, on in-memory streams (the integration tests cover the
wiring through the daemon)."""

from __future__ import annotations

import asyncio

import pytest

from bridge.daemon.jupyter_gate import Gate, Head, authorize, requests_up, with_xsrf

TOKEN = "ab" * 24
COOKIE = "smconnect-jupyter-4242"
GATE = Gate(TOKEN, COOKIE, "x5rf")


def raw(target: str = "/x", *headers: str, method: str = "GET") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:4242", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def head(target: str = "/x", *headers: str, method: str = "GET") -> Head:
    parsed = Head.parse(raw(target, *headers, method=method))
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("request_head", "how"),
    [
        (raw("/x", f"Authorization: token {TOKEN}"), "header"),
        (raw("/x", f"authorization:   Bearer {TOKEN}  "), "header"),
        (raw("/x", f"Cookie: _xsrf=1; {COOKIE}={TOKEN}; other=2"), "cookie"),
        (raw(f"/x/api/kernels/k/channels?session_id=s&token={TOKEN}"), "query"),
        (raw(f"/x?token=nope&token={TOKEN}"), "query"),
        (raw("/x"), None),
        (raw("/x", "Authorization: token nope"), None),
        (raw("/x", f"Authorization: Basic {TOKEN}"), None),
        (raw("/x", f"Cookie: smconnect-jupyter-1={TOKEN}"), None),  # another listener's
        (raw(f"/x?tok={TOKEN}"), None),
        ("GET /x HTTP/1.1\r\nAuthorization: token \xe9\r\n\r\n".encode("latin-1"), None),
    ],
)
def test_authorize(request_head: bytes, how: str | None) -> None:
    parsed = Head.parse(request_head)
    assert parsed is not None
    assert authorize(parsed, GATE) == how


def test_malformed_heads_and_an_empty_token() -> None:
    assert Head.parse(b"GARBAGE\r\n\r\n") is None
    assert Head.parse(f"GET /x?token={TOKEN}\r\n\r\n".encode()) is None  # HTTP/0.9 shape
    assert authorize(head("/x?token=", "Authorization: token "), Gate("", COOKIE, "x")) is None


def test_xsrf_is_added_only_where_missing() -> None:
    added = with_xsrf(head("/x", "Cookie: a=1", "Cookie: b=2"), GATE)
    assert added.headers("cookie") == ["a=1; b=2; _xsrf=x5rf"]
    assert added.headers("x-xsrftoken") == ["x5rf"]
    assert with_xsrf(head("/x"), GATE).headers("cookie") == ["_xsrf=x5rf"]
    for own in (("X-XSRFToken: mine",), ("Cookie: _xsrf=mine",), ("X-CSRFToken: mine",)):
        kept = head("/x", *own)
        assert with_xsrf(kept, GATE) is kept


class Sink:
    def __init__(self) -> None:
        self.data = b""
        self.eof = False

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        return None


def feed(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_requests_keep_their_framing_and_each_is_checked() -> None:
    auth = f"Authorization: token {TOKEN}"
    first = head("/api/kernels", auth, "Content-Length: 5", method="POST")
    chunked = raw("/api/contents/a", f"Cookie: {COOKIE}={TOKEN}", "Transfer-Encoding: chunked")
    body = b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n"
    rest = b"hello" + chunked + body + raw("/api/status", auth)
    sink = Sink()
    await requests_up(first, "header", GATE, feed(rest), sink)
    assert sink.eof
    parts = sink.data.split(b"\r\n\r\n")
    assert b"X-XSRFToken: x5rf" in parts[0]  # token in a header: XSRF added
    assert parts[1].startswith(b"helloGET /api/contents/a")
    assert b"X-XSRFToken" not in parts[1]  # let in by the cookie: a browser does its own XSRF
    assert sink.data.count(b"X-XSRFToken: x5rf") == 2  # the last request again
    assert body in sink.data


async def test_a_later_request_without_the_token_ends_the_connection() -> None:
    first = head("/x", f"Authorization: token {TOKEN}")
    sink = Sink()
    with pytest.raises(PermissionError):
        await requests_up(first, "header", GATE, feed(raw("/api/kernels")), sink)
    assert b"/api/kernels" not in sink.data


async def test_after_an_upgrade_bytes_pass_untouched() -> None:
    first = head(f"/ch?token={TOKEN}", "Upgrade: websocket", "Connection: Upgrade")
    sink = Sink()
    await requests_up(first, "query", GATE, feed(b"\x81\x05hello GET / HTTP/1.1\r\n\r\n"), sink)
    assert sink.data.endswith(b"\r\n\r\n\x81\x05hello GET / HTTP/1.1\r\n\r\n")
    assert sink.eof
