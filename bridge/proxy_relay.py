"""The ProxyCommand's byte relay: the fallback when ssh cannot take a descriptor.

stdout is a pipe (``-o ProxyUseFdpass=no``, other ssh clients), the transport is TCP, or the
daemon answered ``proxy.open`` without a ticket: the proxy then copies bytes between
stdin/stdout and the websocket the daemon upgraded to a raw stream, stdin → space in a thread,
space → stdout in the main one. ``bridge.proxy`` imports this module only on that path, so the
descriptor path never loads it nor ``threading``.
"""

from __future__ import annotations

import _socket
import os
import threading

from bridge.fastws import BINARY, CLOSE, TEXT, WsClient
from bridge.proxy_messages import DAEMON_GONE, ProxyError, Quietly, notice, session_ended

NORMAL_CLOSE = (1000, 1005, None)  # a close frame without an error (1005: no status given)


def relay(ws: WsClient, early: list[tuple[int, bytes]]) -> None:
    """Relay until the daemon closes the stream, then close; ProxyError if it ended badly.
    ``early`` are the messages that came with the ``proxy.open`` answer."""
    pumps = _Relay(ws, early)
    threading.Thread(target=pumps.pump_stdin, daemon=True).start()
    try:
        error = pumps.pump_stdout()
    except OSError as exc:
        error = None if isinstance(exc, BrokenPipeError) else f"I/O error: {exc}"
    ws.close()
    with Quietly(OSError):
        ws.sock.close()
    if error:
        raise ProxyError(error)


class _Relay:
    """The two pumps, sharing the websocket (sends under a lock)."""

    def __init__(self, ws: WsClient, early: list[tuple[int, bytes]]) -> None:
        self.ws = ws
        self._send_lock = threading.Lock()
        self._stdout_open = True
        self._early = early  # messages that came with the open answer

    def send(self, opcode: int, payload: bytes) -> None:
        with self._send_lock:
            self.ws.send(opcode, payload)

    def pump_stdin(self) -> None:
        """stdin → space. EOF is an empty binary message (a half-close)."""
        try:
            while data := os.read(0, 65536):
                self.send(BINARY, data)
            self.send(BINARY, b"")
        except OSError:
            with Quietly(OSError):
                self.ws.sock.shutdown(_socket.SHUT_RDWR)

    def pump_stdout(self) -> str | None:
        """space → stdout until the daemon closes the stream; returns an error, if any."""
        messages, self._early = self._early, []
        while True:
            for opcode, payload in messages:
                if opcode == BINARY:
                    if payload:
                        self._write(payload)
                    elif self._stdout_open:
                        self._stdout_open = False
                        os.close(1)
                elif opcode == TEXT:
                    notice(payload)
                elif opcode == CLOSE:
                    code = self.ws.close_code
                    return None if code in NORMAL_CLOSE else session_ended(self.ws.close_reason)
            data = self.ws.sock.recv(262144)
            if not data:  # no close frame: the daemon died or dropped us
                return DAEMON_GONE
            self.ws.feed(data)
            with self._send_lock:
                messages = self.ws.messages()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self._stdout_open:
            view = view[os.write(1, view) :]
