"""Port sessions, as amazon-ssm-agent's port plugin serves them.

* ``BasicPortSession`` (``port_basic.go``): one connection to ``localhost:<portNumber>``, dialled
  when the session becomes ready. Without ``type`` (AWS-StartSSHSession, ssh ProxyCommand) it
  has sshd semantics: when the target ends the connection, the session ends. With
  ``type=LocalPortForwarding`` (an old client that cannot do smux) a target EOF or a
  DisconnectToPort flag closes the connection, and the next data from the client redials.
  The agent only redials in that mode: in sshd mode DisconnectToPort closes the connection and
  the session ends with it (the agent's read fails on the closed connection).
* ``MuxPortSession`` (``port_mux.go``): an smux v1 server over the channel's byte stream; each
  stream dials ``<host>:<portNumber>`` and a failed dial sends Flag ConnectToPortError.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from bridge.emulator.agent.session import AgentSession
from bridge.ssm.codec import Flag, PayloadType
from bridge.ssm.smux import serve_smux
from bridge.ssm.smux_proto import SmuxConfig

__all__ = [
    "Address",
    "BasicPortApp",
    "Connect",
    "MuxPortApp",
    "Resolve",
    "mux_supported",
    "open_address",
    "smux_keepalive",
]

Address = tuple[str, int] | str
Resolve = Callable[[str, int], Address]
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Connect = Callable[[], Awaitable[Streams]]

MUX_MIN_CLIENT_VERSION = (1, 1, 70)  # plugins/port/port.go: mux when client version >= this
KEEPALIVE_MAX_CLIENT_VERSION = (1, 2, 331, 0)  # port_mux.go: no smux keepalive above this
_READ_CHUNK = 65536  # the core cuts it into <=1024-byte messages
_TARGET_HIGH_WATER = 1 << 20  # bytes queued towards the target before the websocket stalls
_BACKLOG_HIGH_WATER = 256 * 1024


def _version(text: str | None) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in (text or "").split("."))
    except ValueError:
        return None


def mux_supported(client_version: str | None) -> bool:
    """The agent's rule: mux for clients at or above 1.1.70; anything unparsable is basic."""
    parts = _version(client_version)
    return parts is not None and parts >= MUX_MIN_CLIENT_VERSION


def smux_keepalive(client_version: str | None) -> bool:
    """port_mux.go keeps smux keepalive on unless the client is newer than 1.2.331.0."""
    parts = _version(client_version)
    return parts is None or parts <= KEEPALIVE_MAX_CLIENT_VERSION


async def open_address(address: Address) -> Streams:
    """Connect to a resolved address: a (host, port) pair or a unix socket path."""
    if isinstance(address, str):
        return await asyncio.open_unix_connection(address)
    host, port = address
    return await asyncio.open_connection(host, port)


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        with contextlib.suppress(RuntimeError):  # the loop may already be closing
            writer.close()


class BasicPortApp:
    """One target connection piped to the channel; see the module docstring."""

    def __init__(self, session: AgentSession, connect: Connect, *, redial: bool) -> None:
        self._io = session
        self._connect = connect
        self._redial = redial
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._dialing: asyncio.Task[None] | None = None
        self._dial_error: OSError | None = None
        self._new_connection = asyncio.Event()
        self._pending: list[bytes] = []

    async def run(self) -> str:
        try:
            self._reader, self._writer = await self._connect()
        except OSError as exc:
            return f"Unable to connect to specified port: {exc.strerror or exc}"
        while True:
            reader = self._reader
            assert reader is not None
            try:
                data = await reader.read(_READ_CHUNK)
            except OSError:
                data = b""
            if data:
                await self._io.write(data)
                continue
            if not self._redial:
                return ""  # sshd semantics: the target hung up, the session is over
            if self._reader is reader:  # the target hung up on its own: redial on next data
                _close(self._writer)
                self._reader = self._writer = None
                self._new_connection.clear()
            await self._new_connection.wait()
            if self._dial_error is not None:
                return f"Unable to connect to specified port: {self._dial_error.strerror}"

    def on_data(self, data: bytes, payload_type: int) -> None:
        if payload_type != PayloadType.OUTPUT:
            return
        writer = self._writer
        if writer is not None and not writer.is_closing():
            writer.write(data)
        elif self._redial:
            self._pending.append(data)
            if self._dialing is None:
                self._dialing = asyncio.get_running_loop().create_task(self._dial_again())

    async def _dial_again(self) -> None:
        try:
            reader, writer = await self._connect()
        except OSError as exc:
            self._dial_error = exc
        else:
            for chunk in self._pending:
                writer.write(chunk)
            self._reader, self._writer = reader, writer
        finally:
            self._pending.clear()
            self._dialing = None
            self._new_connection.set()

    def on_flag(self, flag: int) -> None:
        if flag == Flag.DISCONNECT_TO_PORT:
            _close(self._writer)
            if self._redial:
                self._reader = self._writer = None
                self._new_connection.clear()

    def congested(self) -> bool:
        writer = self._writer
        return self._dialing is not None or (
            writer is not None and writer.transport.get_write_buffer_size() > _TARGET_HIGH_WATER
        )

    async def flow_control(self) -> None:
        if self._dialing is not None:
            await asyncio.shield(self._dialing)
        writer = self._writer
        if writer is not None and writer.transport.get_write_buffer_size() > _TARGET_HIGH_WATER:
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    async def aclose(self) -> None:
        if self._dialing is not None:
            self._dialing.cancel()
        _close(self._writer)


class _ChannelTransport(asyncio.Transport):
    """The transport under the StreamReader/StreamWriter pair that smux reads and writes."""

    def __init__(self, session: AgentSession, protocol: asyncio.StreamReaderProtocol) -> None:
        super().__init__()
        self._session = session
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._backlog = bytearray()
        self._wake = asyncio.Event()
        self._writing_paused = False
        self._closing = False
        self.reading = asyncio.Event()
        self.reading.set()
        self._flusher = self._loop.create_task(self._flush())

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        self._backlog += data
        self._wake.set()
        if not self._writing_paused and len(self._backlog) > _BACKLOG_HIGH_WATER:
            self._writing_paused = True
            self._protocol.pause_writing()

    async def _flush(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._backlog:
                chunk = bytes(self._backlog)
                self._backlog.clear()
                try:
                    await self._session.write(chunk)
                except ConnectionError:
                    self.close()
                    return
            if self._writing_paused:
                self._writing_paused = False
                self._protocol.resume_writing()

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return len(self._backlog)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self.reading.set()  # never leave the websocket stalled behind a dead session
            self._flusher.cancel()
            self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def pause_reading(self) -> None:
        self.reading.clear()

    def resume_reading(self) -> None:
        self.reading.set()

    def is_reading(self) -> bool:
        return self.reading.is_set()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class MuxPortApp:
    """smux server over the channel; see the module docstring."""

    def __init__(self, session: AgentSession, connect: Connect) -> None:
        self._session = session
        self._connect = connect
        self._config = SmuxConfig(keepalive=smux_keepalive(session.client_version))
        self._reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(self._reader)
        self._transport = _ChannelTransport(session, protocol)
        protocol.connection_made(self._transport)
        self._writer = asyncio.StreamWriter(
            self._transport, protocol, self._reader, asyncio.get_running_loop()
        )

    async def run(self) -> str:
        await serve_smux(
            self._reader, self._writer, self._connect, self._dial_failed, config=self._config
        )
        return ""

    async def _dial_failed(self) -> None:
        self._session.send_flag(Flag.CONNECT_TO_PORT_ERROR)

    def on_data(self, data: bytes, payload_type: int) -> None:
        if payload_type == PayloadType.OUTPUT:
            self._reader.feed_data(data)

    def on_flag(self, flag: int) -> None:
        pass  # DisconnectToPort is a basic-mode flag; TerminateSession ends the session itself

    def congested(self) -> bool:
        return not self._transport.reading.is_set()

    async def flow_control(self) -> None:
        await self._transport.reading.wait()

    async def aclose(self) -> None:
        self._reader.feed_eof()
        self._transport.close()
