"""The token gate's parsing of a first request head (the integration tests cover the wiring)."""

from __future__ import annotations

import pytest

from bridge.daemon.jupyter import authorize

TOKEN = "ab" * 24
COOKIE = "smconnect-jupyter-4242"


def head(target: str = "/jupyterlab/default/api/status", *headers: str) -> bytes:
    return "\r\n".join(
        [f"GET {target} HTTP/1.1", "Host: 127.0.0.1:4242", *headers, "", ""]
    ).encode()


@pytest.mark.parametrize(
    ("request_head", "how"),
    [
        (head("/x", f"Authorization: token {TOKEN}"), "header"),
        (head("/x", f"authorization:   Bearer {TOKEN}  "), "header"),
        (head("/x", f"Cookie: _xsrf=1; {COOKIE}={TOKEN}; other=2"), "cookie"),
        (head(f"/x/api/kernels/k/channels?session_id=s&token={TOKEN}"), "query"),
        (head(f"/x?token=nope&token={TOKEN}"), "query"),
        (head("/x"), None),
        (head("/x", "Authorization: token nope"), None),
        (head("/x", f"Authorization: Basic {TOKEN}"), None),
        (head("/x", f"Cookie: smconnect-jupyter-1={TOKEN}"), None),  # another listener's
        (head(f"/x?tok={TOKEN}"), None),
        (b"GARBAGE\r\n\r\n", None),
        (f"GET /x?token={TOKEN}\r\n\r\n".encode(), None),  # HTTP/0.9 shape
        ("GET /x HTTP/1.1\r\nAuthorization: token \xe9\r\n\r\n".encode("latin-1"), None),
    ],
)
def test_authorize(request_head: bytes, how: str | None) -> None:
    assert authorize(request_head, TOKEN, COOKIE) == how


def test_an_empty_token_admits_nobody() -> None:
    assert authorize(head("/x?token=", "Authorization: token "), "", COOKIE) is None
