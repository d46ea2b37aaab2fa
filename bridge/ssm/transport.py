"""The client side of a data channel on a real websocket: the channel's life, open to close.

The protocol lives in the sans-I/O ``ClientChannelCore``; this module only runs it. One
supervisor task owns the connection's life; per websocket it runs the read side
(``readside.ReadSide``), the writer (``coalesce.WriteScheduler``: ``core.frames_to_send`` onto
the socket), and the keepalive (``dial.keepalive``); ``driver.CoreDriver`` keeps one loop timer on
``core.next_deadline()`` (retransmission, pacing, handshake timeout). Application bytes go in
and out through ``stream.ChannelTransport``, a real ``asyncio.Transport``, so that
``StreamReader`` / ``StreamWriter`` flow control works end to end: a full reader stops us
reading the websocket, a full core makes ``writer.drain()`` wait.

When the websocket drops the core keeps every unacked message; we ask ``resume()`` for a fresh
token, redial the *original* StreamUrl and send a new OpenDataChannelInput with the same
ClientId, as the plugin does (docs/design/ssm-protocol.md §7). Secrets stay out of every message we
produce: the token never, the StreamUrl only as ``scheme://host/path?<redacted>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import CloseCode

from bridge.ssm._aio import consume_exception, describe, unless_stopped
from bridge.ssm.client_core import ClientChannelCore
from bridge.ssm.coalesce import WriteScheduler
from bridge.ssm.codec import Flag
from bridge.ssm.core import (
    CLIENT_VERSION,
    ChannelClosed,
    DataReceived,
    Event,
    FlagReceived,
    FrameRejected,
    HandshakeRequested,
    PublicationPaused,
    SessionFailed,
    SessionReady,
    State,
    TransportStats,
)
from bridge.ssm.dial import (
    DIAL_ERRORS,
    ReconnectEvent,
    ReconnectPhase,
    close_websocket,
    describe_dial_error,
    dial,
    keepalive,
    redact_url,
)
from bridge.ssm.driver import CoreDriver
from bridge.ssm.errors import (
    ChannelClosedError,
    ChannelError,
    HandshakeTimeout,
    ResumeFailed,
    TruncatedError,
)
from bridge.ssm.options import ChannelOptions, RetryPolicy
from bridge.ssm.predial import PreDial
from bridge.ssm.readside import ReadSide, Sink
from bridge.ssm.stream import ChannelTransport

__all__ = [
    "ChannelOptions",
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


class DataChannel:
    """One open data channel. Build it with :func:`open_channel`."""

    def __init__(
        self,
        stream_url: str,
        *,
        resume: ResumeFn | None,
        on_reconnect: Callable[[ReconnectEvent], None] | None,
        options: ChannelOptions,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._url = stream_url
        self.redacted_url = redact_url(stream_url)
        self._resume_fn = resume
        self._on_reconnect = on_reconnect
        self._options = options
        self._core = ClientChannelCore(
            self._loop.time(), config=options.config, version=options.client_version
        )
        self.client_version = options.client_version or CLIENT_VERSION

        self._ws: ClientConnection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stop: asyncio.Future[None] = self._loop.create_future()
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._ready: asyncio.Future[SessionReady] = self._loop.create_future()
        self._ready.add_done_callback(consume_exception)
        self._outcome: ChannelError | None = None  # set once: ChannelClosedError when clean
        self._service_reason: str | None = None  # the text of the service's channel_closed
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        self._driver = CoreDriver(self._core, self._on_timer, self._loop)
        self._ready_timer: asyncio.TimerHandle | None = None
        self._flushed = asyncio.Event()  # write buffer empty and everything acked (for close)
        self._reconnects = 0
        self._attempts_used = 0  # resume tries since the last connection that carried frames
        self._ws_latency: float | None = None
        self._flags: dict[int, int] = {}
        self._flag_listeners: list[Callable[[int], None]] = []

        self._reader = asyncio.StreamReader(limit=options.stream_limit)
        self._protocol = asyncio.StreamReaderProtocol(self._reader)
        self._transport = ChannelTransport(self, self._protocol)
        self._protocol.connection_made(self._transport)
        self._writer = asyncio.StreamWriter(
            self._transport, self._protocol, self._reader, self._loop
        )
        self._scheduler = WriteScheduler(
            self._core, self._driver, self._transport, options.coalesce
        )
        self._read_side = ReadSide(
            self._core, self._driver, self._transport, self._reader, self._protocol, options
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
    def service_reason(self) -> str | None:
        """The reason the service gave when it closed the channel (``channel_closed``), if any:
        an idle timeout, a TerminateSession; None for a clean end or any other ending."""
        return self._service_reason

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
            websocket_reads=self._read_side.reads,
            read_holds=self._read_side.holds,
            websocket_writes=self._scheduler.writes,
            write_holds=self._scheduler.holds,
        )

    async def wait_ready(self) -> SessionReady:
        """The session is ready for data; raises the channel's ChannelError if it never gets so."""
        return await asyncio.shield(self._ready)

    def streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The channel as a byte stream. Always the same pair; data is buffered until read."""
        return self._reader, self._writer

    def deliver_to(self, sink: Sink | None) -> None:
        """Received data goes to ``sink`` (``readside.Sink``) when it takes it whole and the
        stream's reader holds nothing, else to the reader as always; None detaches it."""
        self._read_side.sink = sink

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

    @property
    def options(self) -> ChannelOptions:
        return self._options

    # ---- the surface the stream transport uses (stream.ByteChannel) --------------------------

    @property
    def is_closing(self) -> bool:
        """Closing or ended: writes are dropped from here on."""
        return self._closing or self._outcome is not None

    @property
    def queued_bytes(self) -> int:
        """Bytes the core took and has not framed yet."""
        return self._core.queued_bytes

    def offer(self, data: bytes) -> int:
        """Hand application bytes to the core now; returns how many it took."""
        return self._core.send(data, self._loop.time())

    def wake_writer(self) -> None:
        self._scheduler.poke()

    def close_soon(self) -> None:
        """Start a clean close (as :meth:`close`, without waiting for it)."""
        self._start_close()

    def abort(self) -> None:
        """End the channel now, without waiting for acks."""
        self._finish(ChannelClosedError("the channel was aborted locally"))

    # ---- opening -----------------------------------------------------------------------------

    async def _open(self, token: str, predial: PreDial | None = None) -> None:
        ws = await self._dial_first(token, predial)
        self._ws = ws
        if self._options.ready_timeout is not None:
            self._ready_timer = self._loop.call_later(
                self._options.ready_timeout, self._ready_expired
            )
        self._supervisor = asyncio.create_task(self._supervise(ws), name="ssm-channel")

    async def _dial_first(self, token: str, predial: PreDial | None) -> ClientConnection:
        """Dial, retrying transient failures with the same token (the plugin's first-open loop);
        the first attempt on ``predial`` if it goes where the StreamUrl does."""
        last = ""
        for attempt, delay in enumerate([0.0, *self._options.retry.delays()[:-1]], start=1):
            if delay:
                await asyncio.sleep(delay)
            try:
                return await self._dial(token, predial if attempt == 1 else None)
            except InvalidStatus as exc:
                last = describe_dial_error(exc)
                if exc.response.status_code < 500:
                    break
            except DIAL_ERRORS as exc:
                last = describe_dial_error(exc)
            log.info(
                "data channel open attempt %d to %s failed: %s", attempt, self.redacted_url, last
            )
        raise ChannelError(f"cannot open the data channel to {self.redacted_url}: {last}")

    async def _dial(self, token: str, predial: PreDial | None = None) -> ClientConnection:
        ws = await dial(self._url, self._core.open_frame(token), self._options, predial)
        self._read_side.connected()
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
                    and not self._read_side.frames
                ):
                    raise ChannelError(
                        f"the service refused the session token for {self.redacted_url} "
                        f"(websocket closed with 1008 {ws.close_reason or ''})".rstrip()
                    )
                self._ws = None
                reconnected = await unless_stopped(self._reconnect(), self._stop)
                if reconnected is None:
                    break
                ws = self._ws = reconnected
        except ChannelError as exc:
            self._finish(exc)
        except Exception as exc:
            log.exception("data channel transport failed")
            self._finish(ChannelError(f"data channel transport failed: {type(exc).__name__}"))
        finally:
            clean = self._outcome is None or type(self._outcome) is ChannelClosedError
            await close_websocket(self._ws, clean=clean, timeout=self._options.close_timeout)
            self._teardown()

    async def _run_connection(self, ws: ClientConnection) -> None:
        """Run reader, writer and keepalive on one websocket until it drops or the channel ends."""
        tasks = [
            asyncio.create_task(
                self._read_side.run(ws, self._pump, self._scheduler.poke, self._going),
                name="ssm-read",
            ),
            asyncio.create_task(self._scheduler.run(ws), name="ssm-write"),
        ]
        pinger = asyncio.create_task(
            keepalive(ws, self._options, self._record_latency, self.redacted_url), name="ssm-ping"
        )
        try:
            await asyncio.wait([*tasks, self._stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*tasks, pinger):
                task.cancel()
            for task in (*tasks, pinger):
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                    await task  # anything else is a bug in us or the core: let it fail the channel
        if self._outcome is None:
            ws.transport.abort()  # whatever half-state it is in, this connection is over
            code = ws.close_code
            log.info(
                "data channel websocket to %s dropped (close code %s)", self.redacted_url, code
            )

    def _going(self) -> bool:
        return self._outcome is None

    def _record_latency(self, latency: float) -> None:
        self._ws_latency = latency

    async def _reconnect(self) -> ClientConnection:
        """Resume after a drop: new token, original StreamUrl, same ClientId, bounded tries."""
        self._core.connection_lost(self._loop.time())
        if self._core.state is State.CLOSED:  # a channel_closed that waited for missing data
            self._pump()
            raise self._outcome or ChannelClosedError("the service closed the channel")
        self._driver.cancel()  # no writer to drain what it would schedule; resumed re-arms it
        self._emit(ReconnectEvent(ReconnectPhase.DROPPED, reason="websocket closed"))
        if self._read_side.frames:
            self._attempts_used = 0  # a connection that carried frames resets the budget
        last = "websocket closed"
        for delay in self._options.retry.delays()[self._attempts_used :]:
            self._attempts_used += 1
            attempt = self._attempts_used
            self._emit(ReconnectEvent(ReconnectPhase.RETRYING, attempt, delay, last))
            await asyncio.sleep(delay)
            if self._resume_fn is None:
                raise self._give_up("the websocket dropped and this channel has no resume")
            try:
                async with asyncio.timeout(self._options.resume_timeout):
                    token = await self._resume_fn()
            except Exception as exc:
                raise self._give_up(f"the session could not be resumed ({describe(exc)})") from exc
            try:
                ws = await self._dial(token)
            except DIAL_ERRORS as exc:
                last = describe_dial_error(exc)
                log.info("reconnect attempt %d to %s failed: %s", attempt, self.redacted_url, last)
                continue
            self._core.connection_resumed(self._loop.time())
            self._reconnects += 1
            self._emit(ReconnectEvent(ReconnectPhase.RESUMED, attempt))
            log.info("data channel resumed on attempt %d", attempt)
            return ws
        raise self._give_up(
            f"could not reconnect after {self._options.retry.max_attempts} attempts: {last}"
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

    # ---- the core's events -------------------------------------------------------------------

    def _pump(self, wake: bool = True) -> None:
        """After any input to the core: deliver its events (the data of a batch of frames in
        one piece), feed it pending bytes, wake the writer (unless the caller writes)."""
        data: list[bytes] = []
        deliver = self._read_side.deliver
        for event in self._core.events():
            if type(event) is DataReceived:
                data.append(event.data)
                continue
            if data:
                deliver(b"".join(data))
                data.clear()
            self._handle(event)
        if data:
            deliver(b"".join(data))
        transport = self._transport
        if transport.buffered:
            transport.feed(self._core.writable())
        if self._closing and not transport.buffered and self._core.all_acknowledged():
            self._flushed.set()
        if wake:
            self._scheduler.poke()

    def _handle(self, event: Event) -> None:
        if isinstance(event, SessionReady):
            self._on_ready(event)
        elif isinstance(event, FlagReceived):
            self._flags[event.flag] = self._flags.get(event.flag, 0) + 1
            for listener in self._flag_listeners:
                listener(event.flag)
        elif isinstance(event, ChannelClosed):
            reason = f": {event.reason}" if event.reason else ""
            log.info("the service closed the data channel%s", reason)
            self._service_reason = event.reason or None
            if event.complete:
                self._finish(ChannelClosedError(f"the service closed the channel{reason}"))
            else:  # a gap never filled: the reader must not take this for the end (EOF)
                why = f"the service closed the channel with the agent's data missing{reason}"
                self._finish(TruncatedError(why))
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
                    f"the session was not ready within {self._options.ready_timeout:g} s "
                    f"(no handshake completed on {self.redacted_url})"
                )
            )

    # ---- timer -------------------------------------------------------------------------------

    def _on_timer(self) -> None:
        """The driver ticked the core: deliver, and wake the writer (which re-arms the timer)."""
        if self._outcome is None:
            self._pump()

    # ---- ending ------------------------------------------------------------------------------

    def _start_close(self, timeout: float | None = None, *, terminate: bool = False) -> None:
        """Start the drain-then-close on the channel's own loop, not the running one: a
        stream's finaliser (``StreamWriter.__del__``) can close it after that loop stopped. A
        stopped loop runs the close if it runs again; a closed one never will, so nothing is
        started (no coroutine left unawaited) and the channel is only marked closing."""
        if self._closing or self._outcome is not None:
            return
        self._closing = True
        if self._loop.is_closed():
            return
        self._close_task = self._loop.create_task(
            self._drain_then_close(
                self._options.close_timeout if timeout is None else timeout, terminate
            ),
            name="ssm-close",
        )

    async def _drain_then_close(self, timeout: float, terminate: bool) -> None:
        try:
            async with asyncio.timeout(timeout):
                if terminate:
                    await self._queue_flag(Flag.TERMINATE_SESSION)
                self._pump()
                await self._wait_for(self._flushed)
        except TimeoutError:
            log.warning("closing the data channel before the agent acknowledged all data")
        except ChannelError:
            pass  # it ended on its own meanwhile
        self._finish(ChannelClosedError("the channel was closed locally"))

    async def _queue_flag(self, flag: Flag) -> None:
        """Queue ``flag`` behind the bytes still waiting in our buffer, once they reach the core."""
        while self._transport.buffered and self._outcome is None:
            await self._wait_for(self._transport.buffer_empty)
        if self._outcome is not None:
            raise self._outcome
        self._core.send_flag(flag, self._loop.time())
        self._pump()

    async def _wait_for(self, event: asyncio.Event) -> None:
        """Wait for ``event``, or for the channel to end."""
        waiter = asyncio.ensure_future(event.wait())
        waiting: list[asyncio.Future[Any]] = [self._done, waiter]
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

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


async def open_channel(
    stream_url: str,
    token: str,
    *,
    resume: ResumeFn | None = None,
    on_reconnect: Callable[[ReconnectEvent], None] | None = None,
    options: ChannelOptions | None = None,
    predial: PreDial | None = None,
    **overrides: Any,
) -> DataChannel:
    """Dial ``stream_url`` exactly as given, send the OpenDataChannelInput, start the channel.

    Returns once the websocket is open; ``await channel.wait_ready()`` for the handshake.
    ``resume`` supplies a fresh TokenValue after a drop (ResumeSession) and raises to give up;
    without it a drop fails the channel. ``on_reconnect`` hears every ReconnectEvent. The
    channel's tunables are a ``ChannelOptions`` (``options``), any field of which may also be
    given by name (``config=..., ready_timeout=...``) to override it. ``predial``: a
    connection opened while StartSession ran (``bridge.ssm.predial``), used for the first
    dial if it goes where ``stream_url`` does, else closed.
    """
    chosen = dataclasses.replace(options or ChannelOptions(), **overrides)
    channel = DataChannel(stream_url, resume=resume, on_reconnect=on_reconnect, options=chosen)
    await channel._open(token, predial)
    return channel
