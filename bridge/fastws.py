"""A minimal blocking RFC 6455 websocket client, for the ProxyCommand relay's fast start.

ssh starts the relay for every connection; importing asyncio and the websockets package costs
more than the whole start-up budget (60 ms), so the relay speaks the daemon's protocol with the
stdlib only. It supports exactly what the daemon's API uses: an upgrade over an already
connected socket, masked text and binary frames out, unmasked frames in (fragmented or not),
ping/pong and close. Anything else from the server is a protocol error.

Its imports are C modules only (``binascii``, ``_sha1``): ``base64`` and ``struct`` would bring
``re``, ``hashlib`` loads OpenSSL, and the socket it is given may be a bare ``_socket.socket``
(the proxy's descriptor path does without the ``socket`` module, whose enums cost ~15 ms).
"""

from __future__ import annotations

import os
from binascii import b2a_base64

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hashlib import sha1
else:
    try:  # the SHA-1 of the handshake without loading OpenSSL's libcrypto (hashlib's _hashlib)
        from _sha1 import sha1
    except ImportError:  # pragma: no cover - a build without it
        from hashlib import sha1

if TYPE_CHECKING:
    from _socket import socket

__all__ = ["BINARY", "CLOSE", "TEXT", "WebSocketError", "WsClient"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 16 * 1024 * 1024


class WebSocketError(ConnectionError):
    pass


class WsClient:
    def __init__(self, sock: socket) -> None:
        self.sock = sock
        self._buf = bytearray()
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self.close_code: int | None = None
        self.close_reason = ""

    @classmethod
    def handshake(
        cls, sock: socket, *, host: str = "localhost", headers: dict[str, str] | None = None
    ) -> WsClient:
        key = _base64(os.urandom(16))
        lines = [
            "GET / HTTP/1.1",
            f"Host: {host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key.decode()}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        client = cls(sock)
        head = client._read_until(b"\r\n\r\n", limit=16384)
        status, *header_lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in f"{status} ":
            raise WebSocketError(f"the daemon refused the connection ({status.strip()})")
        accept = _base64(sha1(key + _GUID).digest()).decode()  # noqa: S324
        received = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        if received.get("sec-websocket-accept") != accept:
            raise WebSocketError("the daemon sent a bad websocket handshake")
        return client

    def _read_until(self, marker: bytes, *, limit: int) -> bytes:
        while marker not in self._buf:
            if len(self._buf) > limit:
                raise WebSocketError("handshake response too long")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise WebSocketError("the daemon closed the connection during the handshake")
            self._buf += chunk
        end = self._buf.index(marker) + len(marker)
        head = bytes(self._buf[:end])
        del self._buf[:end]
        return head

    # -- sending
    def send(self, opcode: int, payload: bytes = b"") -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = bytes((0x80 | opcode, 0x80 | length))
        elif length < 65536:
            header = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
        else:
            header = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
        self.sock.sendall(header + mask + _mask(payload, mask))

    def send_text(self, text: str) -> None:
        self.send(TEXT, text.encode())

    def close(self, code: int = 1000) -> None:
        try:  # noqa: SIM105 - contextlib is ~8 ms of the proxy's start
            self.send(CLOSE, code.to_bytes(2, "big"))
        except OSError:
            pass

    # -- receiving
    def feed(self, data: bytes) -> None:
        """Add bytes received from the socket (the caller owns the reading)."""
        self._buf += data

    def messages(self) -> list[tuple[int, bytes]]:
        """Complete data messages buffered so far: (TEXT|BINARY|CLOSE, payload). Answers pings."""
        out: list[tuple[int, bytes]] = []
        while True:
            frame = self._next_frame()
            if frame is None:
                return out
            fin, opcode, payload = frame
            if opcode == PING:
                self.send(PONG, payload)
            elif opcode == PONG:
                continue
            elif opcode == CLOSE:
                if len(payload) >= 2:
                    self.close_code = int.from_bytes(payload[:2], "big")
                    self.close_reason = payload[2:].decode("utf-8", "replace")
                else:
                    self.close_code = 1005
                out.append((CLOSE, payload))
                return out
            elif opcode in (TEXT, BINARY, CONTINUATION):
                if opcode != CONTINUATION:
                    self._fragment_opcode = opcode
                    self._fragments = []
                self._fragments.append(payload)
                if fin:
                    out.append((self._fragment_opcode, b"".join(self._fragments)))
                    self._fragments = []
            else:
                raise WebSocketError(f"unexpected websocket opcode {opcode}")

    def _next_frame(self) -> tuple[bool, int, bytes] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        first, second = buf[0], buf[1]
        if second & 0x80:
            raise WebSocketError("the daemon sent a masked frame")
        length = second & 0x7F
        offset = 2
        if length == 126:
            if len(buf) < 4:
                return None
            length = int.from_bytes(buf[2:4], "big")
            offset = 4
        elif length == 127:
            if len(buf) < 10:
                return None
            length = int.from_bytes(buf[2:10], "big")
            offset = 10
        if length > MAX_MESSAGE:
            raise WebSocketError("websocket frame too large")
        if len(buf) < offset + length:
            return None
        payload = bytes(buf[offset : offset + length])
        del buf[: offset + length]
        return bool(first & 0x80), first & 0x0F, payload


def _base64(data: bytes) -> bytes:
    """``base64.b64encode``; ``base64`` itself imports ``re`` and ``struct``."""
    return b2a_base64(data, newline=False)


def _mask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return b""
    # XOR with the repeated 4-byte key, done on big integers: fast without numpy.
    n = len(payload)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")
