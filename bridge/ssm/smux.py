"""asyncio smux v1 sessions over a byte stream, with streams as asyncio StreamReader/StreamWriter.

Each smux stream gets a small ``asyncio.Transport`` of our own feeding a stock
``StreamReaderProtocol``, so callers use the same reader/writer API as for TCP and the
forwarding helpers can pipe stream to socket with one copy loop. Frame and stream state live in
the sans-I/O ``SmuxCore`` (``bridge.ssm.smux_proto``); this module only moves bytes and time.

Memory and back-pressure:

* Sending: stream writes are framed into one session output buffer. When it holds more than
  ``write_high_water`` bytes, every stream's ``drain()`` blocks until it is back under
  ``write_low_water``; the buffer empties as fast as the underlying ``send`` (which awaits the
  transport's own drain) accepts bytes.
* Receiving: a stream's ``StreamReader`` pauses its transport past twice its limit; data arriving
  for a paused stream waits in that stream's queue and counts against the core's session-wide
  ``max_receive_buffer``. Once that budget is spent the session stops reading the underlying
  connection, so a slow reader of one stream stalls the others only after that much data, and
  memory stays bounded (smux v1 has no per-stream window; xtaci/smux does the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bridge.ssm.driver import CoreDriver
from bridge.ssm.smux_proto import (
    SessionClosed,
    SmuxConfig,
    SmuxCore,
    SmuxError,
    SmuxSessionClosed,
    StreamData,
    StreamFinished,
    StreamOpened,
)

__all__ = [
    "SmuxError",
    "SmuxIOConfig",
    "SmuxSession",
    "SmuxSessionClosed",
    "forward_listener",
    "serve_smux",
]

log = logging.getLogger(__name__)

Recv = Callable[[], Awaitable[bytes]]
Send = Callable[[bytes], Awaitable[None]]
Close = Callable[[], Awaitable[None]]
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Dial = Callable[[], Awaitable[Streams]]

_COPY_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class SmuxIOConfig:
    """Buffer sizes of the asyncio layer (the protocol's own knobs are in ``SmuxConfig``)."""

    stream_limit: int = 65536  # each stream's StreamReader limit (pauses at twice this)
    write_high_water: int = 256 * 1024
    write_low_water: int = 64 * 1024
    send_chunk: int = 64 * 1024  # largest single call to the underlying send
    accept_backlog: int = 1024  # unaccepted streams before the session stops reading
    close_timeout: float = 5.0  # how long close() waits to flush queued frames


class _Stream(asyncio.Transport):
    """The transport under one stream's StreamReader/StreamWriter."""

    def __init__(self, session: SmuxSession, sid: int, reader: asyncio.StreamReader) -> None:
        super().__init__(extra={"smux_stream_id": sid})
        self._session = session
        self.sid = sid
        self.reader = reader
        self.protocol = asyncio.StreamReaderProtocol(reader)
        self.pending: deque[bytes] = deque()  # data held back while the reader is paused
        self.pending_eof = False
        self.eof_delivered = False
        self.fin_sent = False
        self.closed = False
        self.reading = True
        self.writing_paused = False
        self._flush_scheduled = False

    # asyncio.Transport ---------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.fin_sent and not self.closed:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self.closed or not data:
            return
        self._session._stream_write(self, bytes(data))

    def write_eof(self) -> None:
        if self.closed or self.fin_sent:
            return
        self.fin_sent = True
        self._session._stream_finish(self)

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self._session._stream_close(self, None)

    def abort(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True
        if (self.pending or self.pending_eof) and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def is_reading(self) -> bool:
        return self.reading

    def get_write_buffer_size(self) -> int:
        return self._session._output_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        cfg = self._session._io
        return cfg.write_low_water, cfg.write_high_water

    # session side --------------------------------------------------------------------------

    def deliver(self, data: bytes) -> None:
        if self.reading and not self.pending:
            self.reader.feed_data(data)
            self._session._release(self.sid, len(data))
        else:
            self.pending.append(data)

    def deliver_eof(self) -> None:
        if self.pending:
            self.pending_eof = True
        else:
            self._eof()

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.closed:
            return
        while self.pending and self.reading:
            data = self.pending.popleft()
            self.reader.feed_data(data)
            self._session._release(self.sid, len(data))
        if not self.pending and self.pending_eof:
            self.pending_eof = False
            self._eof()
        self._session._update_reading()

    def _eof(self) -> None:
        self.reader.feed_eof()
        self.eof_delivered = True
        if self.fin_sent:
            self._session._stream_close(self, None)


class SmuxSession:
    """One smux session over a byte stream; either role may open and accept streams.

    ``recv()`` returns the next bytes from the peer (``b""`` at EOF); ``send(data)`` writes all
    of ``data`` and returns when the link can take more; ``close()`` (optional) releases the
    link. Construct it inside a running event loop: its reader, writer and keepalive tasks
    start at once.
    """

    def __init__(
        self,
        recv: Recv,
        send: Send,
        *,
        client: bool,
        config: SmuxConfig | None = None,
        io_config: SmuxIOConfig | None = None,
        close: Close | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._recv = recv
        self._send = send
        self._close_link = close
        self._io = io_config or SmuxIOConfig()
        self._core = SmuxCore(client=client, config=config, now=self._loop.time())
        self._streams: dict[int, _Stream] = {}
        self._accepts: deque[_Stream] = deque()
        self._accept_waiters: deque[asyncio.Future[None]] = deque()
        self._inflight = 0
        self._write_paused = False
        self._can_read = asyncio.Event()
        self._can_read.set()
        self._output_ready = asyncio.Event()
        self._flushed = asyncio.Event()
        self._flushed.set()
        self._error: SmuxError | None = None
        self._closing = False
        self._shutting_down = False
        self._done = asyncio.Event()
        self._reader_task = self._loop.create_task(self._read_loop())
        self._writer_task = self._loop.create_task(self._write_loop())
        self._timed_end: asyncio.Task[None] | None = None  # a keepalive timeout's shutdown
        self._driver = CoreDriver(self._core, self._on_timer, self._loop)
        self._driver.arm()  # keepalive pings and timeout (no deadline without keepalive)

    @classmethod
    def over_streams(
        cls,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        client: bool,
        config: SmuxConfig | None = None,
        io_config: SmuxIOConfig | None = None,
    ) -> SmuxSession:
        """A session over an asyncio stream pair (a TCP or unix connection, a channel's streams)."""

        async def recv() -> bytes:
            return await reader.read(_COPY_CHUNK)

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        async def close() -> None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

        return cls(recv, send, client=client, config=config, io_config=io_config, close=close)

    # public API ----------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self._closing

    @property
    def error(self) -> SmuxError | None:
        """Why the session ended on its own (peer EOF, protocol error, timeout); None if open."""
        return self._error

    @property
    def stream_count(self) -> int:
        return len(self._streams)

    async def open_stream(self) -> Streams:
        self._check_open()
        sid = self._core.open_stream()
        stream = self._new_stream(sid)
        self._kick()
        return stream.reader, asyncio.StreamWriter(
            stream, stream.protocol, stream.reader, self._loop
        )

    async def accept_stream(self) -> Streams:
        """The next stream the peer opened; raises ``SmuxSessionClosed`` once the session ends."""
        while not self._accepts:
            self._check_open()
            waiter = self._loop.create_future()
            self._accept_waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    self._accept_waiters.remove(waiter)
        stream = self._accepts.popleft()
        self._update_reading()
        return stream.reader, asyncio.StreamWriter(
            stream, stream.protocol, stream.reader, self._loop
        )

    async def close(self) -> None:
        """FIN every stream, flush what is queued (bounded by ``close_timeout``), close the link."""
        if not self._closing:
            for stream in list(self._streams.values()):
                stream.close()
            self._closing = True
            self._core.close()
            self._kick()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), self._io.close_timeout)
            await self._shutdown(SmuxSessionClosed("smux session closed locally"), local=True)
        await self._done.wait()

    async def wait_closed(self) -> None:
        await self._done.wait()

    async def __aenter__(self) -> SmuxSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # stream callbacks ----------------------------------------------------------------------

    def _new_stream(self, sid: int) -> _Stream:
        reader = asyncio.StreamReader(limit=self._io.stream_limit)
        stream = _Stream(self, sid, reader)
        stream.protocol.connection_made(stream)
        self._streams[sid] = stream
        if self._write_paused:
            stream.writing_paused = True
            stream.protocol.pause_writing()
        return stream

    def _stream_write(self, stream: _Stream, data: bytes) -> None:
        self._core.send(stream.sid, data)
        self._kick()
        self._update_writing()

    def _stream_finish(self, stream: _Stream) -> None:
        self._core.finish(stream.sid)
        self._kick()
        if stream.eof_delivered:
            self._stream_close(stream, None)

    def _stream_close(self, stream: _Stream, exc: Exception | None) -> None:
        if stream.closed:
            return
        stream.closed = True
        stream.fin_sent = True
        stream.pending.clear()
        if not self._core.closed:
            self._core.close_stream(stream.sid)
            self._kick()
        self._streams.pop(stream.sid, None)
        self._loop.call_soon(stream.protocol.connection_lost, exc)
        self._update_reading()

    def _kick(self) -> None:
        """Output is queued: wake the writer, and close() must wait for it again."""
        self._flushed.clear()
        self._output_ready.set()

    def _release(self, sid: int, n: int) -> None:
        self._core.release(sid, n)

    def _output_size(self) -> int:
        return self._core.pending_output + self._inflight

    # flow control --------------------------------------------------------------------------

    def _update_writing(self) -> None:
        size = self._output_size()
        if not self._write_paused and size > self._io.write_high_water:
            self._write_paused = True
            for stream in self._streams.values():
                if not stream.writing_paused:
                    stream.writing_paused = True
                    stream.protocol.pause_writing()
        elif self._write_paused and size <= self._io.write_low_water:
            self._write_paused = False
            for stream in list(self._streams.values()):
                if stream.writing_paused:
                    stream.writing_paused = False
                    stream.protocol.resume_writing()

    def _update_reading(self) -> None:
        if self._core.wants_input and len(self._accepts) < self._io.accept_backlog:
            self._can_read.set()
        else:
            self._can_read.clear()

    # loops ---------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            while True:
                await self._can_read.wait()
                data = await self._recv()
                if not data:
                    raise SmuxSessionClosed("smux peer closed the connection")
                self._core.receive(data, self._loop.time())
                error = self._process_events()
                if error is not None:
                    raise error
                self._update_reading()
        except asyncio.CancelledError:
            raise
        except SmuxError as exc:
            await self._shutdown(exc)
        except Exception as exc:  # the link's own errors (OSError, ChannelError, ...)
            await self._shutdown(SmuxSessionClosed(f"smux connection lost: {exc!r}"))

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._output_ready.wait()
                data = self._core.frames_to_send(self._io.send_chunk)
                if not data:
                    self._output_ready.clear()
                    self._flushed.set()
                    self._update_writing()
                    continue
                self._inflight = len(data)
                await self._send(data)
                self._inflight = 0
                self._update_writing()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the link's own errors (OSError, ChannelError, ...)
            self._flushed.set()
            await self._shutdown(SmuxSessionClosed(f"smux connection lost: {exc!r}"))

    def _on_timer(self) -> None:
        """The driver ticked the core (keepalive): send its NOP, or end on a timeout."""
        self._kick()
        error = self._process_events()
        if error is not None:
            self._timed_end = self._loop.create_task(self._shutdown(error))
            return
        self._driver.arm()

    def _process_events(self) -> SmuxError | None:
        """Hand core events to streams; returns the error if the core ended the session."""
        error: SmuxError | None = None
        for event in self._core.events():
            if isinstance(event, StreamData):
                stream = self._streams.get(event.sid)
                if stream is None:
                    self._core.release(event.sid, len(event.data))
                else:
                    stream.deliver(event.data)
            elif isinstance(event, StreamOpened):
                self._accepts.append(self._new_stream(event.sid))
                for waiter in self._accept_waiters:
                    if not waiter.done():
                        waiter.set_result(None)
                        break
            elif isinstance(event, StreamFinished):
                stream = self._streams.get(event.sid)
                if stream is not None:
                    stream.deliver_eof()
            elif isinstance(event, SessionClosed):
                error = event.error
        return error

    # shutdown ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closing:
            raise SmuxSessionClosed("smux session is closed") from self._error

    async def _shutdown(self, error: SmuxError, *, local: bool = False) -> None:
        """End the session once: streams see EOF (local close) or ``error``, the link closes."""
        if self._shutting_down:
            await self._done.wait()
            return
        self._shutting_down = True
        if not local:
            self._error = error
            log.debug("smux session ended: %s", error)
        self._closing = True
        self._driver.stop()
        self._core.close()
        for stream in list(self._streams.values()):
            self._stream_close(stream, None if stream.eof_delivered else error)
        self._accepts.clear()
        for waiter in self._accept_waiters:
            if not waiter.done():
                waiter.set_result(None)
        current = asyncio.current_task()
        for task in (self._reader_task, self._writer_task):
            if task is not current:
                task.cancel()
        if self._close_link is not None:
            with contextlib.suppress(OSError):
                await self._close_link()
        self._done.set()


# ---- forwarding helpers -------------------------------------------------------------------


async def _copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, half_close: bool) -> None:
    """Copy to EOF, then end ``dst``: FIN/shutdown only (half_close) or close it outright."""
    try:
        while data := await src.read(_COPY_CHUNK):
            dst.write(data)
            await dst.drain()
    except ConnectionError:
        dst.close()
        return
    if half_close and dst.can_write_eof() and not dst.is_closing():
        with contextlib.suppress(OSError, RuntimeError):
            dst.write_eof()
    else:
        dst.close()


async def _pipe(a: Streams, b: Streams, *, half_close: bool) -> None:
    try:
        await asyncio.gather(
            _copy(a[0], b[1], half_close=half_close),
            _copy(b[0], a[1], half_close=half_close),
        )
    finally:
        for writer in (a[1], b[1]):
            writer.close()


async def serve_smux(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    dial: Dial,
    on_dial_error: Callable[[], Awaitable[None]],
    *,
    config: SmuxConfig | None = None,
    io_config: SmuxIOConfig | None = None,
) -> None:
    """The agent's smux server: pipe every accepted stream to a fresh ``dial()`` of the target.

    Mirrors amazon-ssm-agent's port_mux.go: when the dial fails (``OSError``) it reports
    (``on_dial_error``: the agent sends Flag ConnectToPortError) and closes the stream with a
    FIN; when either side of a pipe reaches EOF it closes the other side outright, as the
    agent's ``io.Copy`` + ``Close`` does. Returns when the session ends.
    """
    session = SmuxSession.over_streams(
        reader, writer, client=False, config=config, io_config=io_config
    )
    handlers: set[asyncio.Task[None]] = set()

    async def handle(stream: Streams) -> None:
        try:
            target = await dial()
        except OSError as exc:
            log.debug("smux dial failed: %r", exc)
            await on_dial_error()
            stream[1].close()
            return
        await _pipe(stream, target, half_close=False)

    try:
        while True:
            try:
                stream = await session.accept_stream()
            except SmuxError:
                return
            task = asyncio.create_task(handle(stream))
            handlers.add(task)
            task.add_done_callback(handlers.discard)
    finally:
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await session.close()


async def forward_listener(
    session: SmuxSession, local_host: str, local_port: int
) -> asyncio.Server:
    """Listen locally and map each accepted TCP connection to a new smux stream.

    Each direction is half-closed on EOF (the local connection's EOF becomes an smux FIN, the
    stream's FIN a TCP shutdown), and both close when both directions are done or the session
    ends. ``local_port`` 0 picks a free port (read it from the server's sockets).
    """

    async def handle(
        local_reader: asyncio.StreamReader, local_writer: asyncio.StreamWriter
    ) -> None:
        try:
            stream = await session.open_stream()
        except SmuxError:
            local_writer.close()
            return
        await _pipe((local_reader, local_writer), stream, half_close=True)

    return await asyncio.start_server(handle, local_host, local_port)
