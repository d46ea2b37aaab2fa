"""Port sessions on a data channel: the stdio stream, basic forwarding, mux forwarding.

Client and agent must pick the same mode or the bytes mean nothing to the other side, so the
choice copies the plugin exactly (docs/design/ssm-protocol.md §4, §6): properties without
``type == "LocalPortForwarding"`` are a plain byte stream (what AWS-StartSSHSession and ssh's
ProxyCommand use); with it, the agent version decides between smux v1 (mux, newer agents) and
one-connection-at-a-time basic forwarding with a DisconnectToPort flag after each connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import re
from collections.abc import Mapping

from bridge.ssm.codec import Flag
from bridge.ssm.core import CLIENT_VERSION
from bridge.ssm.errors import ChannelError
from bridge.ssm.smux import SmuxSession, forward_listener
from bridge.ssm.smux_proto import SmuxConfig
from bridge.ssm.transport import DataChannel

__all__ = [
    "LOCAL_PORT_FORWARDING",
    "MUX_AFTER_AGENT_VERSION",
    "SMUX_KEEPALIVE_OFF_AFTER_AGENT_VERSION",
    "PortMode",
    "forward_port",
    "port_mode",
    "version_greater",
]

log = logging.getLogger(__name__)

LOCAL_PORT_FORWARDING = "LocalPortForwarding"
MUX_AFTER_AGENT_VERSION = "3.0.196.0"  # TCPMultiplexingSupportedAfterThisAgentVersion
SMUX_KEEPALIVE_OFF_AFTER_AGENT_VERSION = "3.1.1511.0"
MUX_MIN_CLIENT_VERSION = (1, 1, 70)  # the agent's side of the same choice
BASIC_READ_SIZE = 1024  # StreamDataPayloadSize: the plugin's read size in basic mode

_GO_ATOI = re.compile(r"[+-]?[0-9]+")


class PortMode(enum.Enum):
    STREAM = "stream"  # the channel is the connection: channel.streams()
    BASIC = "basic"  # one local connection at a time, DisconnectToPort between them
    MUX = "mux"  # smux v1 client, one stream per local connection


def version_greater(version: str, than: str) -> bool:
    """The plugin's ``isAgentVersionGreaterThanSupportedVersion``, quirks included.

    Dot-separated integers compared left to right; a different number of components, an empty
    string or a non-integer component reached before the decision all mean False.
    """
    if not version or not than:
        return False
    ours, theirs = version.split("."), than.split(".")
    if len(ours) != len(theirs):
        return False
    for mine, other in zip(ours, theirs, strict=True):
        if not (_GO_ATOI.fullmatch(mine) and _GO_ATOI.fullmatch(other)):
            return False
        if int(mine) != int(other):
            return int(mine) > int(other)
    return False


def _at_least(version: str, minimum: tuple[int, ...]) -> bool:
    """The agent's client-version rule (plugins/port/port.go); unparsable means no."""
    try:
        return tuple(int(part) for part in version.split(".")) >= minimum
    except ValueError:
        return False


def port_mode(
    properties: Mapping[str, str],
    agent_version: str | None,
    client_version: str = CLIENT_VERSION,
) -> PortMode:
    """Which port session both sides run for these handshake properties.

    The plugin's rule is the agent version; the agent's is the ClientVersion we reported. They
    agree for real plugins; a client reporting an old version to force basic mode must follow
    the agent's answer, so both rules must say mux.
    """
    if properties.get("type") != LOCAL_PORT_FORWARDING:
        return PortMode.STREAM
    if version_greater(agent_version or "", MUX_AFTER_AGENT_VERSION) and _at_least(
        client_version, MUX_MIN_CLIENT_VERSION
    ):
        return PortMode.MUX
    return PortMode.BASIC


async def forward_port(channel: DataChannel, local_host: str, local_port: int) -> asyncio.Server:
    """Listen on ``local_host:local_port`` (0 = any free port) and forward through ``channel``.

    Waits for the session to be ready, then serves in the mode the agent will use. A session
    without ``type: LocalPortForwarding`` is a single byte stream, not a forwarder: use
    ``channel.streams()`` for it (ValueError here). The server closes itself when the channel
    ends; closing the channel stays the caller's job.
    """
    ready = await channel.wait_ready()
    mode = port_mode(ready.properties, channel.agent_version, channel.client_version)
    log.info("port session in %s mode (agent %s)", mode.value, channel.agent_version)
    if mode is PortMode.STREAM:
        raise ValueError(
            "this session is a plain stream (no LocalPortForwarding type); use channel.streams()"
        )
    if mode is PortMode.MUX:
        keepalive = not version_greater(
            channel.agent_version or "", SMUX_KEEPALIVE_OFF_AFTER_AGENT_VERSION
        )
        reader, writer = channel.streams()
        session = SmuxSession.over_streams(
            reader, writer, client=True, config=SmuxConfig(keepalive=keepalive)
        )
        server = await forward_listener(session, local_host, local_port)
    else:
        server = await _BasicForwarder(channel).listen(local_host, local_port)
    _close_with_channel(channel, server)
    return server


_watchers: set[asyncio.Task[None]] = set()


def _close_with_channel(channel: DataChannel, server: asyncio.Server) -> None:
    async def watch() -> None:
        await channel.wait_closed()
        server.close()

    task = asyncio.create_task(watch(), name="ssm-port-watch")
    _watchers.add(task)
    task.add_done_callback(_watchers.discard)


class _BasicForwarder:
    """The plugin's BasicPortForwarding: one local connection at a time.

    Further connections wait their turn (the plugin leaves them in the listen backlog). While
    no connection is being served, whatever the channel delivers belongs to a finished target
    connection and is discarded, so it cannot leak into the next client's stream.
    """

    def __init__(self, channel: DataChannel) -> None:
        self._channel = channel
        self._reader, self._writer = channel.streams()
        self._turn = asyncio.Lock()
        self._discarder: asyncio.Task[None] | None = None
        self._server: asyncio.Server | None = None

    async def listen(self, host: str, port: int) -> asyncio.Server:
        self._server = await asyncio.start_server(self._handle, host, port)
        self._start_discarding()
        return self._server

    async def _handle(
        self, local_reader: asyncio.StreamReader, local_writer: asyncio.StreamWriter
    ) -> None:
        try:
            async with self._turn:
                if self._channel.is_closed:
                    return
                await self._stop_discarding()
                try:
                    await self._serve(local_reader, local_writer)
                finally:
                    if not self._channel.is_closed:
                        self._start_discarding()
        finally:
            local_writer.close()

    async def _serve(
        self, local_reader: asyncio.StreamReader, local_writer: asyncio.StreamWriter
    ) -> None:
        upload = asyncio.create_task(self._upload(local_reader))
        download = asyncio.create_task(self._download(local_writer))
        try:
            await asyncio.wait([upload, download], return_when=asyncio.FIRST_COMPLETED)
        finally:
            download.cancel()  # a cancelled StreamReader.read() loses no buffered data
            upload.cancel()
            await asyncio.gather(upload, download, return_exceptions=True)
        if upload.cancelled() or upload.exception() is not None:
            return  # the channel ended first: nothing to tell the agent
        with contextlib.suppress(ChannelError, ConnectionError):
            await self._channel.send_flag(Flag.DISCONNECT_TO_PORT)

    async def _upload(self, local_reader: asyncio.StreamReader) -> None:
        """Local bytes to the agent; returns at local EOF or error (the plugin's ReadStream)."""
        with contextlib.suppress(ConnectionError):
            while data := await local_reader.read(BASIC_READ_SIZE):
                self._writer.write(data)
                await self._writer.drain()

    async def _download(self, local_writer: asyncio.StreamWriter) -> None:
        """Agent bytes to the local connection, until the channel ends."""
        try:
            while data := await self._reader.read(65536):
                local_writer.write(data)
                await local_writer.drain()
        except ConnectionError:
            await asyncio.Future()  # the local side went away: wait for upload to see it
        except ChannelError as exc:
            log.info("port session ended: %s", exc)
        if self._server is not None:
            self._server.close()

    def _start_discarding(self) -> None:
        self._discarder = asyncio.create_task(self._discard(), name="ssm-port-discard")

    async def _stop_discarding(self) -> None:
        if self._discarder is not None:
            self._discarder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._discarder
            self._discarder = None

    async def _discard(self) -> None:
        discarded = 0
        with contextlib.suppress(ChannelError, ConnectionError):
            while data := await self._reader.read(65536):
                discarded += len(data)
        if discarded:
            log.debug("discarded %d bytes for a closed local connection", discarded)
        if self._server is not None and self._channel.is_closed:
            self._server.close()
