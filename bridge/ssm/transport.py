"""The client side of a data channel on a real websocket: dial, keep alive, resume, close.

The protocol lives in the sans-I/O ``DataChannelCore``; this module only moves its frames. One
supervisor task owns the connection's life; per websocket it runs one reader (frames into
``core.receive``) and one writer (``core.frames_to_send`` onto the socket, honouring the
socket's own drain), and one loop timer follows ``core.next_deadline()`` (retransmission,
pacing, handshake timeout). Application bytes go in and out through a real ``asyncio.Transport``
so that ``StreamReader`` / ``StreamWriter`` flow control works end to end: a full reader stops
us reading the websocket, a full core makes ``writer.drain()`` wait.

When the websocket drops the core keeps every unacked message; we ask ``resume()`` for a fresh
token, redial the *original* StreamUrl and send a new OpenDataChannelInput with the same
ClientId, as the plugin does (reference section 7). Secrets stay out of every message we
produce: the token never, the StreamUrl only as ``scheme://host/path?<redacted>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import CloseCode

from bridge.ssm.codec import Flag
from bridge.ssm.core import (
    CLIENT_VERSION,
    ChannelClosed,
    CoreConfig,
    DataChannelCore,
    DataReceived,
    Event,
    FlagReceived,
    FrameRejected,
    HandshakeRequested,
    PublicationPaused,
    Role,
    SessionFailed,
    SessionReady,
)
from bridge.ssm.driver import CoreDriver
from bridge.ssm.errors import (
    ChannelClosedError,
    ChannelError,
    HandshakeTimeout,
    ResumeFailed,
)
from bridge.ssm.wsbatch import send_batch
from bridge.ssm.wslog import WebsocketSecretsFilter

__all__ = [
    "DataChannel",
    "ReconnectEvent",
    "ReconnectPhase",
    "ResumeFn",
    "RetryPolicy",
    "TransportStats",
    "open_channel",
    "redact_url",
]

log = logging.getLogger(__name__)

ResumeFn = Callable[[], Awaitable[str]]
_T = TypeVar("_T")

_MAX_FRAME = 16 << 20  # the service sends ~1.1 kB frames, but nothing caps a receiver's payloads
_DIAL_ERRORS = (OSError, TimeoutError, InvalidHandshake, ConnectionClosed)


_ws_log = logging.getLogger("bridge.ssm.websocket")
_ws_log.addFilter(WebsocketSecretsFilter())


def redact_url(url: str) -> str:
    """``scheme://host[:port]/path?<redacted>``: what of a StreamUrl may appear in logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable url>"
    query = "?<redacted>" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{query}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Reconnect backoff, after the plugin's retryer: random 100-200 ms, doubling, capped."""

    initial_min: float = 0.1
    initial_max: float = 0.2
    max_delay: float = 5.0
    max_attempts: int = 6  # the plugin's MaxAttempts 5 means one try plus five retries

    def delays(self) -> list[float]:
        delay = random.uniform(self.initial_min, self.initial_max)
        out = []
        for _ in range(self.max_attempts):
            out.append(delay)
            delay = min(delay * 2, self.max_delay)
        return out


class ReconnectPhase(enum.Enum):
    DROPPED = "dropped"  # the websocket went away; retries follow
    RETRYING = "retrying"  # about to wait ``delay`` and try attempt ``attempt``
    RESUMED = "resumed"  # a new websocket carries the channel again
    FAILED = "failed"  # gave up; the channel fails with ResumeFailed


@dataclass(frozen=True, slots=True)
class ReconnectEvent:
    """What the daemon turns into a user notification. ``reason`` never holds a secret."""

    phase: ReconnectPhase
    attempt: int = 0
    delay: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TransportStats:
    bytes_sent: int  # application bytes handed to the core and framed
    bytes_received: int  # application bytes delivered in order
    messages_sent: int
    messages_received: int
    retransmissions: int
    duplicates_received: int
    frames_rejected: int
    pauses_received: int
    rtt: float  # the core's smoothed round trip (acks), seconds
    rto: float
    reconnects: int  # websockets successfully resumed
    websocket_latency: float | None  # last ping/pong round trip, if a pong came back
    flags_received: Mapping[int, int] = field(default_factory=dict)  # Flag value -> count


class _ChannelTransport(asyncio.Transport):
    """The byte-stream face of a channel, for asyncio's stream protocol machinery.

    Write-side buffering above the core is this transport's buffer: ``get_write_buffer_size``
    reports it and the protocol is paused above the high-water mark, which is what makes
    ``StreamWriter.drain()`` wait for acks.
    """

    def __init__(self, channel: DataChannel, protocol: asyncio.BaseProtocol) -> None:
        super().__init__(extra={"peername": channel.redacted_url})
        self._channel = channel
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def is_closing(self) -> bool:
        return self._channel._closing or self._channel._outcome is not None

    def close(self) -> None:
        self._channel._start_close()

    def abort(self) -> None:
        self._channel._abort()

    def is_reading(self) -> bool:
        return not self._channel._read_paused

    def pause_reading(self) -> None:
        self._channel._pause_reading()

    def resume_reading(self) -> None:
        self._channel._resume_reading()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._channel._write(data)

    def writelines(self, list_of_data: Any) -> None:
        self._channel._write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """The protocol has no half-close: like the plugin at stdin EOF, finish and close."""
        self._channel._start_close()

    def get_write_buffer_size(self) -> int:
        return len(self._channel._pending)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._channel._write_low, self._channel._write_high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._channel._write_high, self._channel._write_low = high, low
        self._channel._update_write_pressure()


class DataChannel:
    """One open data channel. Build it with :func:`open_channel`."""

    def __init__(
        self,
        stream_url: str,
        *,
        resume: ResumeFn | None,
        config: CoreConfig | None,
        open_timeout: float,
        ready_timeout: float | None,
        ping_interval: float | None,
        ping_timeout: float | None,
        close_timeout: float,
        retry: RetryPolicy,
        on_reconnect: Callable[[ReconnectEvent], None] | None,
        stream_limit: int,
        client_version: str | None,
        coalesce: float,
        resume_timeout: float,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._url = stream_url
        self.redacted_url = redact_url(stream_url)
        self._resume_fn = resume
        self._open_timeout = open_timeout
        self._ready_timeout = ready_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._close_timeout = close_timeout
        self._coalesce = coalesce
        self._resume_timeout = resume_timeout
        self._retry = retry
        self._on_reconnect = on_reconnect
        self._core = DataChannelCore(
            Role.CLIENT, self._loop.time(), config=config, version=client_version
        )
        self.client_version = client_version or CLIENT_VERSION

        self._ws: ClientConnection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stop: asyncio.Future[None] = self._loop.create_future()
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._ready: asyncio.Future[SessionReady] = self._loop.create_future()
        self._ready.add_done_callback(_consume_exception)
        self._outcome: ChannelError | None = None  # set once: ChannelClosedError when clean
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        self._driver = CoreDriver(self._core, self._on_timer, self._loop)
        self._ready_timer: asyncio.TimerHandle | None = None

        self._pending = bytearray()  # accepted from the application, not yet by the core
        self._write_high = 64 * 1024
        self._write_low = 16 * 1024
        self._write_paused = False
        self._read_paused = False
        self._read_resumed = asyncio.Event()
        self._read_resumed.set()
        self._flushed = asyncio.Event()  # pending empty and everything acked (for close)
        self._pending_empty = asyncio.Event()
        self._pending_empty.set()

        self._reconnects = 0
        self._attempts_used = 0  # resume tries since the last connection that carried frames
        self._frames_on_connection = 0
        self._ws_latency: float | None = None
        self._flags: dict[int, int] = {}
        self._flag_listeners: list[Callable[[int], None]] = []

        self._reader = asyncio.StreamReader(limit=stream_limit)
        self._protocol = asyncio.StreamReaderProtocol(self._reader)
        self._transport = _ChannelTransport(self, self._protocol)
        self._protocol.connection_made(self._transport)
        self._writer = asyncio.StreamWriter(
            self._transport, self._protocol, self._reader, self._loop
        )

    # ---- public surface ----------------------------------------------------------------------

    @property
    def client_id(self) -> str:
        return self._core.client_id

    @property
    def agent_version(self) -> str | None:
        return self._core.peer_version

    @property
    def session_type(self) -> str | None:
        return self._core.session_type

    @property
    def ready_info(self) -> SessionReady | None:
        """The handshake's outcome once ready (session type, properties), else None."""
        if self._ready.done() and not self._ready.cancelled() and not self._ready.exception():
            return self._ready.result()
        return None

    @property
    def error(self) -> ChannelError | None:
        """Why the channel ended, when it ended badly; None while open or after a clean close."""
        outcome = self._outcome
        return None if outcome is None or type(outcome) is ChannelClosedError else outcome

    @property
    def close_reason(self) -> str | None:
        """How the channel ended, for people (the service's channel_closed text included)."""
        return None if self._outcome is None else str(self._outcome)

    @property
    def is_closed(self) -> bool:
        return self._done.done()

    @property
    def stats(self) -> TransportStats:
        core = self._core.stats
        return TransportStats(
            bytes_sent=core.bytes_sent,
            bytes_received=core.bytes_received,
            messages_sent=core.messages_sent,
            messages_received=core.messages_received,
            retransmissions=core.retransmissions,
            duplicates_received=core.duplicates_received,
            frames_rejected=core.frames_rejected,
            pauses_received=core.pauses_received,
            rtt=core.rtt,
            rto=core.rto,
            reconnects=self._reconnects,
            websocket_latency=self._ws_latency,
            flags_received=MappingProxyType(dict(self._flags)),
        )

    async def wait_ready(self) -> SessionReady:
        """The session is ready for data; raises the channel's ChannelError if it never gets so."""
        return await asyncio.shield(self._ready)

    def streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The channel as a byte stream. Always the same pair; data is buffered until read."""
        return self._reader, self._writer

    def add_flag_listener(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(flag)`` for every Flag the agent sends (ConnectToPortError, ...)."""
        self._flag_listeners.append(listener)

    async def send_flag(self, flag: Flag) -> None:
        """Send a Flag after every byte written so far (the agent acts on it in order)."""
        await self._queue_flag(flag)

    async def close(self, timeout: float | None = None, *, terminate: bool = False) -> None:
        """End the channel cleanly: stop writing, wait (bounded) for acks, close the websocket.

        A Port stdio client has no close message of its own (the plugin just exits); the
        service sees the websocket close and the session stays resumable until it times out.
        ``terminate`` first sends Flag TerminateSession after the data, as the plugin does on
        Ctrl-C, so the agent ends the session and hangs up on the target now. Bytes still
        unacknowledged when ``timeout`` passes are given up, with a warning.
        """
        self._start_close(timeout, terminate=terminate)
        await asyncio.shield(self._done)

    async def wait_closed(self) -> None:
        await asyncio.shield(self._done)

    # ---- opening -----------------------------------------------------------------------------

    async def _open(self, token: str) -> None:
        ws = await self._dial_first(token)
        self._ws = ws
        if self._ready_timeout is not None:
            self._ready_timer = self._loop.call_later(self._ready_timeout, self._ready_expired)
        self._supervisor = asyncio.create_task(self._supervise(ws), name="ssm-channel")

    async def _dial_first(self, token: str) -> ClientConnection:
        """Dial, retrying transient failures with the same token (the plugin's first-open loop)."""
        last = ""
        for attempt, delay in enumerate([0.0, *self._retry.delays()[:-1]], start=1):
            if delay:
                await asyncio.sleep(delay)
            try:
                return await self._dial(token)
            except InvalidStatus as exc:
                last = _describe_dial_error(exc)
                if exc.response.status_code < 500:
                    break
            except _DIAL_ERRORS as exc:
                last = _describe_dial_error(exc)
            log.info(
                "data channel open attempt %d to %s failed: %s", attempt, self.redacted_url, last
            )
        raise ChannelError(f"cannot open the data channel to {self.redacted_url}: {last}")

    async def _dial(self, token: str) -> ClientConnection:
        try:
            ws = await connect(
                self._url,
                compression=None,
                max_size=_MAX_FRAME,
                max_queue=64,
                open_timeout=self._open_timeout,
                ping_interval=None,  # our own keepalive: ping at once, then rarely, no deadline
                ping_timeout=None,
                close_timeout=self._close_timeout,
                logger=_ws_log,
            )
        except InvalidURI:
            raise ChannelError(f"invalid StreamUrl {self.redacted_url}") from None
        try:
            await ws.send(self._core.open_frame(token))
        except BaseException:
            ws.transport.abort()
            raise
        self._frames_on_connection = 0
        return ws

    # ---- the connection's life ---------------------------------------------------------------

    async def _supervise(self, ws: ClientConnection) -> None:
        try:
            while True:
                await self._run_connection(ws)
                if self._outcome is not None:
                    break
                if (
                    ws.close_code == CloseCode.POLICY_VIOLATION
                    and not self._reconnects
                    and not self._frames_on_connection
                ):
                    raise ChannelError(
                        f"the service refused the session token for {self.redacted_url} "
                        f"(websocket closed with 1008 {ws.close_reason or ''})".rstrip()
                    )
                self._ws = None
                reconnected = await self._unless_stopped(self._reconnect())
                if reconnected is None:
                    break
                ws = self._ws = reconnected
        except ChannelError as exc:
            self._finish(exc)
        except Exception as exc:
            log.exception("data channel transport failed")
            self._finish(ChannelError(f"data channel transport failed: {type(exc).__name__}"))
        finally:
            await self._close_websocket(self._ws)
            self._teardown()

    async def _run_connection(self, ws: ClientConnection) -> None:
        """Run reader, writer and keepalive on one websocket until it drops or the channel ends."""
        tasks = [
            asyncio.create_task(self._read_loop(ws), name="ssm-read"),
            asyncio.create_task(self._write_loop(ws), name="ssm-write"),
        ]
        keepalive = asyncio.create_task(self._keepalive(ws), name="ssm-ping")
        try:
            await asyncio.wait([*tasks, self._stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*tasks, keepalive):
                task.cancel()
            for task in (*tasks, keepalive):
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                    await task  # anything else is a bug in us or the core: let it fail the channel
        if self._outcome is None:
            ws.transport.abort()  # whatever half-state it is in, this connection is over
            code = ws.close_code
            log.info(
                "data channel websocket to %s dropped (close code %s)", self.redacted_url, code
            )

    async def _read_loop(self, ws: ClientConnection) -> None:
        core, loop = self._core, self._loop
        resumed = self._read_resumed
        while self._outcome is None:
            if not resumed.is_set():
                await resumed.wait()
            frame = await ws.recv()
            if isinstance(frame, str):
                continue  # the service sends only binary frames after the open
            self._frames_on_connection += 1
            core.receive(frame, loop.time())
            self._pump()

    async def _write_loop(self, ws: ClientConnection) -> None:
        """Drain the core onto the socket, coalescing bulk traffic but not interactive data.

        Paced at ~1000 messages/s, every message (and every ack) would otherwise be its own
        syscall and wake-up on both ends; holding a batch for a few ms after the previous write
        turns that into a handful of frames per write, well inside the pacing burst. What is
        held: batches of acks only, and data while many messages are in flight (a transfer).
        What goes at once: data with little in flight (a keystroke, a request), even if an ack
        batch is being held, so coalescing never adds latency to interactive use.
        """
        loop, wake, coalesce = self._loop, self._wake, self._coalesce
        wake.set()  # whatever queued while we were away (or before the first dial)
        last_write = -coalesce
        while True:
            await wake.wait()
            wake.clear()
            # Hold before draining, so frames are stamped when they really leave (RTO).
            deadline = last_write + coalesce
            while loop.time() < deadline and not self._interactive():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        await wake.wait()
                wake.clear()
            if ws.transport.is_closing():
                return  # dropped under us; the supervisor takes it from here
            frames = self._core.frames_to_send(loop.time())
            if self._pending and self._feed_core():
                wake.set()  # framing freed core buffer: refill it and come round again
            if frames:
                await send_batch(ws, frames)
                last_write = loop.time()
            self._driver.arm()

    def _interactive(self) -> bool:
        """A little data waits and little is in flight: someone is waiting for exactly this
        (a keystroke, a request), so it goes now. A transfer has a backlog or a full window."""
        waiting = self._core.queued_bytes + len(self._pending)
        return 0 < waiting <= _INTERACTIVE_BYTES and self._core.in_flight <= _INTERACTIVE_IN_FLIGHT

    async def _keepalive(self, ws: ClientConnection) -> None:
        """Ping at once and then every ``ping_interval``; a missing pong only matters if asked.

        The service's gorilla server answers pings; the plugin never checks the pong. A drop
        from a missing pong is therefore opt-in (``ping_timeout``) and generous.
        """
        if self._ping_interval is None:
            return
        while True:
            waiter = asyncio.ensure_future(await ws.ping())
            waiter.add_done_callback(self._record_latency)
            if self._ping_timeout is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(waiter), self._ping_timeout)
                except TimeoutError:
                    log.warning(
                        "no pong from %s within %.0f s; reconnecting",
                        self.redacted_url,
                        self._ping_timeout,
                    )
                    ws.transport.abort()
                    return
            await asyncio.sleep(self._ping_interval)

    def _record_latency(self, waiter: asyncio.Future[float]) -> None:
        if not waiter.cancelled() and waiter.exception() is None:
            self._ws_latency = waiter.result()

    async def _reconnect(self) -> ClientConnection:
        """Resume after a drop: new token, original StreamUrl, same ClientId, bounded tries."""
        self._core.connection_lost(self._loop.time())
        self._driver.cancel()  # no writer to drain what it would schedule; resumed re-arms it
        self._emit(ReconnectEvent(ReconnectPhase.DROPPED, reason="websocket closed"))
        if self._frames_on_connection:
            self._attempts_used = 0  # a connection that carried frames resets the budget
        last = "websocket closed"
        for delay in self._retry.delays()[self._attempts_used :]:
            self._attempts_used += 1
            attempt = self._attempts_used
            self._emit(ReconnectEvent(ReconnectPhase.RETRYING, attempt, delay, last))
            await asyncio.sleep(delay)
            if self._resume_fn is None:
                raise self._give_up("the websocket dropped and this channel has no resume")
            try:
                async with asyncio.timeout(self._resume_timeout):
                    token = await self._resume_fn()
            except Exception as exc:
                raise self._give_up(f"the session could not be resumed ({_describe(exc)})") from exc
            try:
                ws = await self._dial(token)
            except _DIAL_ERRORS as exc:
                last = _describe_dial_error(exc)
                log.info("reconnect attempt %d to %s failed: %s", attempt, self.redacted_url, last)
                continue
            self._core.connection_resumed(self._loop.time())
            self._reconnects += 1
            self._emit(ReconnectEvent(ReconnectPhase.RESUMED, attempt))
            log.info("data channel resumed on attempt %d", attempt)
            return ws
        raise self._give_up(
            f"could not reconnect after {self._retry.max_attempts} attempts: {last}"
        )

    def _give_up(self, reason: str) -> ResumeFailed:
        self._emit(ReconnectEvent(ReconnectPhase.FAILED, reason=reason))
        return ResumeFailed(reason)

    def _emit(self, event: ReconnectEvent) -> None:
        if self._on_reconnect is None:
            return
        try:
            self._on_reconnect(event)
        except Exception:
            log.exception("reconnect listener failed")

    async def _unless_stopped(self, coro: Coroutine[Any, Any, _T]) -> _T | None:
        """Run ``coro`` unless the channel ends first (then cancel it and return None)."""
        task = asyncio.create_task(coro)
        waiting: list[asyncio.Future[Any]] = [task, self._stop]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return None
        return task.result()

    # ---- the core's events -------------------------------------------------------------------

    def _pump(self) -> None:
        """After any input to the core: deliver its events, feed it pending bytes, wake the writer."""
        for event in self._core.events():
            self._handle(event)
        if self._pending:
            self._feed_core()
        if self._closing and not self._pending and self._core.all_acknowledged():
            self._flushed.set()
        self._wake.set()

    def _handle(self, event: Event) -> None:
        if isinstance(event, DataReceived):
            self._protocol.data_received(event.data)
        elif isinstance(event, SessionReady):
            self._on_ready(event)
        elif isinstance(event, FlagReceived):
            self._flags[event.flag] = self._flags.get(event.flag, 0) + 1
            for listener in self._flag_listeners:
                listener(event.flag)
        elif isinstance(event, ChannelClosed):
            reason = f": {event.reason}" if event.reason else ""
            log.info("the service closed the data channel%s", reason)
            self._finish(ChannelClosedError(f"the service closed the channel{reason}"))
        elif isinstance(event, SessionFailed):
            self._finish(event.error(event.reason))
        elif isinstance(event, HandshakeRequested):
            log.debug("handshake: %s session, agent %s", event.session_type, event.agent_version)
        elif isinstance(event, PublicationPaused):
            log.debug("the service asked to pause publication")
        elif isinstance(event, FrameRejected):
            log.debug("ignored a malformed frame: %s", event.reason)

    def _on_ready(self, event: SessionReady) -> None:
        if self._ready_timer is not None:
            self._ready_timer.cancel()
            self._ready_timer = None
        if not self._ready.done():
            self._ready.set_result(event)
        if event.customer_message:
            log.info("%s", event.customer_message)

    def _ready_expired(self) -> None:
        self._ready_timer = None
        if not self._ready.done():
            self._finish(
                HandshakeTimeout(
                    f"the session was not ready within {self._ready_timeout:g} s "
                    f"(no handshake completed on {self.redacted_url})"
                )
            )

    # ---- timer -------------------------------------------------------------------------------

    def _on_timer(self) -> None:
        """The driver ticked the core: deliver, and wake the writer (which re-arms the timer)."""
        if self._outcome is None:
            self._pump()

    # ---- the application's side --------------------------------------------------------------

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._closing or self._outcome is not None:
            return  # like a closed socket transport: writes after close are dropped
        if self._pending:
            self._pending += data
        else:
            raw = bytes(data)
            accepted = self._core.send(raw, self._loop.time())
            if accepted < len(raw):
                self._pending += raw[accepted:]
        self._update_write_pressure()
        self._wake.set()

    def _feed_core(self) -> bool:
        """Move what the core will take from our buffer into it; True if anything moved."""
        room = self._core.writable()
        if room <= 0:
            return False
        chunk = bytes(self._pending[:room])
        accepted = self._core.send(chunk, self._loop.time())
        del self._pending[:accepted]
        self._update_write_pressure()
        return accepted > 0

    def _update_write_pressure(self) -> None:
        size = len(self._pending)
        if size:
            self._pending_empty.clear()
        else:
            self._pending_empty.set()
        if not self._write_paused and size > self._write_high:
            self._write_paused = True
            self._protocol.pause_writing()
        elif self._write_paused and size <= self._write_low:
            self._write_paused = False
            self._protocol.resume_writing()

    def _pause_reading(self) -> None:
        self._read_paused = True
        self._read_resumed.clear()

    def _resume_reading(self) -> None:
        self._read_paused = False
        self._read_resumed.set()

    # ---- ending ------------------------------------------------------------------------------

    def _start_close(self, timeout: float | None = None, *, terminate: bool = False) -> None:
        if self._closing or self._outcome is not None:
            return
        self._closing = True
        self._close_task = asyncio.create_task(
            self._drain_then_close(self._close_timeout if timeout is None else timeout, terminate),
            name="ssm-close",
        )

    async def _drain_then_close(self, timeout: float, terminate: bool) -> None:
        try:
            async with asyncio.timeout(timeout):
                if terminate:
                    await self._queue_flag(Flag.TERMINATE_SESSION)
                self._pump()
                await self._wait_flushed()
        except TimeoutError:
            log.warning("closing the data channel before the agent acknowledged all data")
        except ChannelError:
            pass  # it ended on its own meanwhile
        self._finish(ChannelClosedError("the channel was closed locally"))

    async def _queue_flag(self, flag: Flag) -> None:
        """Queue ``flag`` behind the bytes still waiting in our buffer, once they reach the core."""
        while self._pending and self._outcome is None:
            await self._wait_for(self._pending_empty)
        if self._outcome is not None:
            raise self._outcome
        self._core.send_flag(flag, self._loop.time())
        self._pump()

    async def _wait_flushed(self) -> None:
        await self._wait_for(self._flushed)

    async def _wait_for(self, event: asyncio.Event) -> None:
        """Wait for ``event``, or for the channel to end."""
        waiter = asyncio.ensure_future(event.wait())
        waiting: list[asyncio.Future[Any]] = [self._done, waiter]
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    def _abort(self) -> None:
        self._finish(ChannelClosedError("the channel was aborted locally"))

    def _finish(self, outcome: ChannelError) -> None:
        """Record how the channel ended (first call wins) and tell the supervisor to stop."""
        if self._outcome is not None:
            return
        self._outcome = outcome
        if not self._stop.done():
            self._stop.set_result(None)
        if self._supervisor is None:  # never got going
            self._teardown()

    def _teardown(self) -> None:
        if self._done.done():
            return
        self._driver.stop()
        if self._ready_timer is not None:
            self._ready_timer.cancel()
        outcome = self._outcome or ChannelClosedError("the channel ended")
        self._outcome = outcome
        clean = type(outcome) is ChannelClosedError
        if not self._ready.done():
            self._ready.set_exception(outcome)
        if clean:
            log.debug("data channel closed: %s", outcome)
            self._protocol.eof_received()
            self._protocol.connection_lost(None)
        else:
            log.warning("data channel failed: %s", outcome)
            self._protocol.connection_lost(outcome)
        self._flushed.set()
        self._done.set_result(None)

    async def _close_websocket(self, ws: ClientConnection | None) -> None:
        if ws is None:
            return
        clean = self._outcome is None or type(self._outcome) is ChannelClosedError
        if not clean:
            ws.transport.abort()
            return
        # Keep reading while closing: frames still arriving would otherwise fill websockets'
        # queue, pause the socket, and hide the peer's close until close_timeout.
        discard = asyncio.create_task(_discard_messages(ws))
        try:
            await asyncio.wait_for(ws.close(CloseCode.NORMAL_CLOSURE), self._close_timeout)
        except (TimeoutError, OSError, ConnectionClosed):
            ws.transport.abort()
        finally:
            discard.cancel()


async def _discard_messages(ws: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.recv()


_INTERACTIVE_BYTES = 4096  # at most this much waiting to be sent: not a bulk transfer
_INTERACTIVE_IN_FLIGHT = 8  # at most this many unacked data messages: likewise


def _consume_exception(future: asyncio.Future[Any]) -> None:
    """A channel nobody waits on must not log 'exception was never retrieved'."""
    if not future.cancelled():
        future.exception()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe_dial_error(exc: BaseException) -> str:
    """A dial failure, without echoing anything that might carry the URL's query."""
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, ConnectionClosed):
        return f"connection closed during open (code {exc.rcvd.code if exc.rcvd else 'none'})"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


async def open_channel(
    stream_url: str,
    token: str,
    *,
    resume: ResumeFn | None = None,
    config: CoreConfig | None = None,
    open_timeout: float = 10.0,
    ready_timeout: float | None = 30.0,
    ping_interval: float | None = 120.0,
    ping_timeout: float | None = None,
    close_timeout: float = 10.0,
    retry: RetryPolicy | None = None,
    on_reconnect: Callable[[ReconnectEvent], None] | None = None,
    stream_limit: int = 256 * 1024,
    client_version: str | None = None,
    coalesce: float = 0.004,
    resume_timeout: float = 60.0,
) -> DataChannel:
    """Dial ``stream_url`` exactly as given, send the OpenDataChannelInput, start the channel.

    Returns once the websocket is open; ``await channel.wait_ready()`` for the handshake.
    ``resume`` supplies a fresh TokenValue after a drop (ResumeSession) and raises to give up;
    without it a drop fails the channel. ``ready_timeout`` bounds the whole way to READY
    (the core's own ``handshake_timeout`` bounds the wait for HandshakeComplete).
    ``ping_interval`` None disables keepalive pings; ``ping_timeout`` None never drops a
    connection for a missing pong. ``client_version`` is the ClientVersion we report (the
    agent picks basic port forwarding below 1.1.70); the default is the core's. ``coalesce``
    is the shortest gap between two websocket writes (0 writes every batch at once).
    ``resume_timeout`` bounds one call of ``resume`` (a hung ResumeSession fails the channel).
    """
    channel = DataChannel(
        stream_url,
        resume=resume,
        config=config,
        open_timeout=open_timeout,
        ready_timeout=ready_timeout,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        close_timeout=close_timeout,
        retry=retry or RetryPolicy(),
        on_reconnect=on_reconnect,
        stream_limit=stream_limit,
        client_version=client_version,
        coalesce=coalesce,
        resume_timeout=resume_timeout,
    )
    await channel._open(token)
    return channel
