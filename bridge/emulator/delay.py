"""A TCP delay line: a long link's one-way latency, on loopback.

On loopback every round trip is free, which hides what users far from their region feel.
``DelayLine`` listens on a port of its own and relays each accepted connection to a target,
holding every chunk it reads for ``delay`` seconds in each direction before writing it on.
A chunk is released at its arrival time + ``delay``, not after the previous chunk's delay:
order is kept and throughput is not serialized (1 MB/s pacing still holds behind it), as on a
real link with a long propagation delay and enough bandwidth.

The emulator puts one in front of its API endpoint and one in front of its websocket broker
(``--latency-ms``), so every API call pays one round trip and every websocket frame the delay
each way (the agent's exec and forward traffic rides those frames). ``scripts/bench ssh`` puts
one in front of a space's SSH server for the direct baseline.

TCP's own handshake is emulated too (``tcp_handshake``, on by default). On loopback the kernel
completes it before the relay sees the connection, so the client's ``connect()`` returns at
once; on a real link it returns one round trip later (SYN, SYN-ACK) and the server accepts
half a round trip after that (the last ACK). So the line holds what the client sends until one
round trip after the accept before its delay starts, and connects to the target when the
handshake's last ACK would arrive: a new connection's first exchange costs two round trips,
as it does on a real link, and every path that opens connections (a direct ssh, the API, a
websocket dial) pays it alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["DelayLine"]

log = logging.getLogger(__name__)

_CHUNK = 65536
_QUEUED_CHUNKS = 256  # at most this many chunks in flight per direction: then reading waits


class DelayLine:
    """``await start()``, connect to ``port``; each connection reaches ``target`` ``delay``
    seconds later in each direction. ``await stop()`` closes every connection."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        delay: float,
        *,
        host: str = "127.0.0.1",
        tcp_handshake: bool = True,
    ) -> None:
        if delay < 0:
            raise ValueError("a delay line cannot deliver before arrival")
        self.target = (target_host, target_port)
        self.delay = delay
        self.tcp_handshake = tcp_handshake
        self.host = host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for link in list(self._links):
            link.cancel()
        if self._links:
            await asyncio.gather(*self._links, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        try:
            await self._link(reader, writer)
        except asyncio.CancelledError:  # stop(): the link ends with the line
            writer.close()
        finally:
            self._links.discard(task)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        # the client's connect() returned at the accept; on a real link it returns a round
        # trip later, so nothing it sends leaves before then, and the server accepts when the
        # handshake's last ACK (sent with the connect's return) arrives
        leaves_from = loop.time() + (2 * self.delay if self.tcp_handshake else 0.0)
        upstream = loop.create_task(
            self._connect(leaves_from + self.delay if self.tcp_handshake else 0.0)
        )

        async def up_writer() -> asyncio.StreamWriter:
            return (await upstream)[1]

        async def down_writer() -> asyncio.StreamWriter:
            return writer

        async def backward() -> None:
            up_reader, _ = await upstream
            await self._direction(up_reader, down_writer, 0.0)

        try:
            await asyncio.gather(self._direction(reader, up_writer, leaves_from), backward())
        except OSError as exc:
            log.info("delay line: cannot reach %s:%d: %s", *self.target, exc)
        finally:
            writer.close()
            if not upstream.done():
                upstream.cancel()
            elif not upstream.cancelled() and upstream.exception() is None:
                upstream.result()[1].close()

    async def _connect(self, at: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The target's connection, opened at loop time ``at`` (when its accept would return)."""
        wait = at - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        # asyncio sets TCP_NODELAY on every TCP transport, this one and the client's alike
        return await asyncio.open_connection(*self.target)

    async def _direction(
        self,
        reader: asyncio.StreamReader,
        writer_of: Callable[[], Awaitable[asyncio.StreamWriter]],
        leaves_from: float,
    ) -> None:
        """Read as fast as the sender sends; write each chunk at its departure + delay, where
        it departs when read, or at ``leaves_from`` if that is later (TCP's handshake)."""
        loop = asyncio.get_running_loop()
        line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(_QUEUED_CHUNKS)

        async def deliver() -> None:
            writer = await writer_of()
            while True:
                due, data = await line.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:  # the sender closed its side: so do we, as late as the data
                    with contextlib.suppress(OSError):
                        if writer.can_write_eof():
                            writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = loop.create_task(deliver())
        try:
            while True:
                try:
                    data = await reader.read(_CHUNK)
                except OSError:
                    data = b""
                if sender.done():  # the receiver went away: nothing more to carry
                    break
                await line.put((max(loop.time(), leaves_from) + self.delay, data))
                if not data:
                    break
            await sender
        except (OSError, ConnectionError):
            pass
        finally:
            if not sender.done():
                sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
