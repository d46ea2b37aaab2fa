"""The token gate in front of a forwarded Jupyter server: HTTP/1.1 requests, checked one by one.

A SageMaker JupyterLab space's server has an empty token and allows every origin. Forwarded as
is to a loopback port, any local user, and any web page the user visits, could run code in the
space. So every request on a local connection must carry the forward's token (a header, our
cookie, or ``?token=``); the first one without it ends the connection (the very first gets a
403 that says what to do).

A client that authenticates with the token itself (header or query; values a cross-site page
cannot know) is treated as the server would treat a token-authenticated client: it needs no
XSRF double-submit, which an empty-token server otherwise demands on every POST. The gate adds
the ``_xsrf`` cookie and ``X-XSRFToken`` header to such requests when they carry none, so VS Code
and scripts given a URL with a token just work. Requests let in by our cookie (a browser) must
do XSRF themselves, as JupyterLab in a browser does.

Only the request side is parsed (heads, and bodies by Content-Length or chunked framing);
responses are copied untouched except that the first one gets our cookie when the first request
came with ``?token=`` (a browser opening the printed URL). After a websocket upgrade request
both ways are plain bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import urllib.parse
from dataclasses import dataclass
from typing import Protocol

CRLF = b"\r\n"
HEAD_END = b"\r\n\r\n"
CHUNK = 65536


class ByteReader(Protocol):
    async def read(self, n: int = -1) -> bytes: ...
    async def readexactly(self, n: int) -> bytes: ...
    async def readuntil(self, separator: bytes) -> bytes: ...


class ByteWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    def write_eof(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Gate:
    token: str  # what clients present
    cookie_name: str  # ours, one per listener (cookies ignore ports)
    xsrf: str  # the value added for clients that authenticate with the token


@dataclass(frozen=True)
class Head:
    """One request head: its lines (request line first), as latin-1 text."""

    lines: list[str]

    @classmethod
    def parse(cls, raw: bytes) -> Head | None:
        lines = raw.decode("latin-1").split("\r\n")[:-2]
        if not lines or len(lines[0].split(" ")) != 3:
            return None
        return cls(lines)

    @property
    def target(self) -> str:
        return self.lines[0].split(" ")[1]

    def headers(self, name: str) -> list[str]:
        found = []
        for line in self.lines[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name:
                found.append(value.strip())
        return found

    def cookies(self) -> dict[str, str]:
        jar: dict[str, str] = {}
        for header in self.headers("cookie"):
            for crumb in header.split(";"):
                key, _, value = crumb.strip().partition("=")
                jar.setdefault(key, value)
        return jar

    def encode(self) -> bytes:
        return ("\r\n".join(self.lines) + "\r\n\r\n").encode("latin-1")


def authorize(head: Head, gate: Gate) -> str | None:
    """How a request carries the token: ``header``, ``cookie``, ``query``, or None."""
    if not gate.token:
        return None
    expected = gate.token.encode()

    def same(value: str) -> bool:
        return hmac.compare_digest(value.strip().encode("latin-1", "replace"), expected)

    for value in head.headers("authorization"):
        scheme, _, credential = value.partition(" ")
        if scheme.lower() in ("token", "bearer") and same(credential):
            return "header"
    cookie = head.cookies().get(gate.cookie_name)
    if cookie is not None and same(cookie):
        return "cookie"
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(head.target).query)
    if any(same(value) for value in query.get("token", [])):
        return "query"
    return None


def with_xsrf(head: Head, gate: Gate) -> Head:
    """The head with our XSRF pair, unless it brings its own (or part of one)."""
    if head.headers("x-xsrftoken") or head.headers("x-csrftoken") or "_xsrf" in head.cookies():
        return head
    lines = [line for line in head.lines if line.partition(":")[0].strip().lower() != "cookie"]
    cookies = "; ".join([*head.headers("cookie"), f"_xsrf={gate.xsrf}"])
    return Head([*lines, f"Cookie: {cookies}", f"X-XSRFToken: {gate.xsrf}"])


def _body_length(head: Head) -> int | None:
    """Content-Length, 0 for none, or None for chunked framing."""
    if any("chunked" in v.lower() for v in head.headers("transfer-encoding")):
        return None
    lengths = head.headers("content-length")
    return int(lengths[0]) if lengths and lengths[0].isdigit() else 0


async def _copy_exactly(reader: ByteReader, writer: ByteWriter, n: int) -> None:
    while n > 0:
        data = await reader.read(min(n, CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", n)
        writer.write(data)
        n -= len(data)
        await writer.drain()


async def _copy_chunked(reader: ByteReader, writer: ByteWriter) -> None:
    while True:
        size_line = await reader.readuntil(CRLF)
        writer.write(size_line)
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            break
        await _copy_exactly(reader, writer, size + 2)  # the data and its CRLF
    while (trailer := await reader.readuntil(CRLF)) != CRLF:
        writer.write(trailer)
    writer.write(CRLF)
    await writer.drain()


async def _copy_raw(reader: ByteReader, writer: ByteWriter) -> None:
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()


async def requests_up(
    first: Head, how: str, gate: Gate, reader: ByteReader, writer: ByteWriter
) -> None:
    """Client → server: each request checked (and given XSRF), bodies copied as framed.

    The first request is already read and authorized; a later one without the token ends the
    connection. Returns at the client's EOF (passed on as a half-close).
    """
    head: Head | None = first
    while head is not None:
        if how in ("header", "query"):
            head = with_xsrf(head, gate)
        writer.write(head.encode())
        if head.headers("upgrade"):
            await _copy_raw(reader, writer)
            break
        length = _body_length(head)
        if length is None:
            await _copy_chunked(reader, writer)
        else:
            await _copy_exactly(reader, writer, length)
        await writer.drain()
        try:
            raw = await reader.readuntil(HEAD_END)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            break
        head = Head.parse(raw)
        found = authorize(head, gate) if head is not None else None
        if head is None or found is None:
            raise PermissionError("a request without the token")
        how = found
    writer.write_eof()


async def responses_down(reader: ByteReader, writer: ByteWriter, cookie: str | None) -> None:
    """Server → client, untouched but for our cookie in the first response's head."""
    if cookie is not None:
        status, _, rest = (await reader.readuntil(HEAD_END)).partition(CRLF)
        writer.write(status + CRLF + f"Set-Cookie: {cookie}".encode() + CRLF + rest)
    await _copy_raw(reader, writer)
    with contextlib.suppress(OSError, RuntimeError):
        writer.write_eof()


async def refuse(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    """A complete plain-text answer, then the end of the connection."""
    body = text.encode()
    reason = {403: "Forbidden", 502: "Bad Gateway"}[status]
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(OSError):
        await writer.drain()
    writer.close()
