"""One emulated session: the agent-role protocol core bound to whichever websocket is attached.

The session outlives its websockets. A drop detaches the socket (``connection_lost``) and keeps
every sequence number and buffer; the same ClientId coming back with a resume token reattaches
to the same core (``connection_resumed``), so no byte is lost or duplicated across drops.

I/O discipline, for CPU: received frames go straight into the core and one pump per event-loop
turn drains the core's frames (written to the socket as one buffer, ``bridge.ssm.wsbatch``) and
events; the core's timers run on the shared ``bridge.ssm.driver.CoreDriver``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from bridge.emulator.agent.faults import FaultPlan, FrameFaults, message_type_of
from bridge.emulator.agent.pacing import InputRateMeter
from bridge.ssm.agent_core import AgentChannelCore
from bridge.ssm.codec import ClientMessage, Flag, MessageType, encode
from bridge.ssm.core import (
    ChannelClosed,
    ChannelStats,
    CoreConfig,
    DataReceived,
    Event,
    FlagReceived,
    HandshakeResponded,
    SessionFailed,
    SessionReady,
    State,
)
from bridge.ssm.driver import CoreDriver
from bridge.ssm.wsbatch import write_batch

__all__ = [
    "AgentSession",
    "AppFactory",
    "ChannelIO",
    "FlushLimits",
    "SessionApp",
    "SessionStats",
]

log = logging.getLogger(__name__)

_REORDER_RELEASE = 0.02  # a frame held back for reordering goes out after this at the latest
_CALM_CHECK = 0.1  # how often a paused client's input rate is re-measured
_OUT, _IN = "out", "in"
_GOODBYE = (CloseCode.NORMAL_CLOSURE, CloseCode.GOING_AWAY)  # a client that closed on purpose


_ACK = MessageType.ACKNOWLEDGE.value.encode()
_HELD_LIMIT = 20000  # frames; the client's send window (4096) keeps it far below this


class ChannelIO(Protocol):
    """What a session application (port forwarder, shell) may do with its channel."""

    async def write(self, data: bytes) -> None: ...

    def send_flag(self, flag: Flag) -> None: ...


class SessionApp(Protocol):
    """The agent-side plugin behind a session: owns the target, never the websocket."""

    async def run(self) -> str:
        """Serve until the target ends; returns the channel_closed reason ("" when clean)."""
        ...

    def on_data(self, data: bytes, payload_type: int) -> None: ...

    def on_flag(self, flag: int) -> None: ...

    def congested(self) -> bool:
        """The target is not keeping up with client data: hold (and do not ack) new data."""
        ...

    async def flow_control(self) -> None:
        """Wait until the target is no longer congested."""
        ...

    async def aclose(self) -> None: ...


AppFactory = Callable[["AgentSession"], SessionApp]


@dataclass(frozen=True, slots=True)
class FlushLimits:
    """How long a clean end waits for the client to ack all output before channel_closed
    (which would otherwise cut the stream short). While a websocket is attached it waits as
    long as acks keep coming: ``stall`` is time without a new one. While detached it waits for
    the resume, up to the session's ``orphan_timeout`` from the drop (not at all when the
    client closed the websocket itself). ``total`` bounds it all; docs/design/emulator-agent.md.
    """

    stall: float = 5.0
    total: float = 600.0


@dataclass(slots=True)
class SessionStats:
    """What the emulator itself did to a session (the core's own counters: ``core_stats``)."""

    connections: int = 0
    resumes: int = 0
    drops_injected: int = 0
    pauses_sent: int = 0
    starts_sent: int = 0
    input_messages: int = 0
    frames_dropped: int = 0
    frames_duplicated: int = 0
    frames_reordered: int = 0


def _service_frame(message_type: MessageType) -> bytes:
    """A frame the service generates itself (pause/start publication): unsequenced, seq 0."""
    message = ClientMessage(message_type=message_type, sequence_number=0)
    return encode(message, now_ms=int(time.time() * 1000))


class AgentSession:
    """The service+agent side of one data channel; see the module docstring."""

    def __init__(
        self,
        *,
        session_id: str,
        session_type: str,
        properties: Mapping[str, str] | None,
        app_factory: AppFactory,
        config: CoreConfig,
        faults: FaultPlan,
        meter: InputRateMeter | None,
        on_end: Callable[[AgentSession], None],
        orphan_timeout: float | None = None,
        flush: FlushLimits = FlushLimits(),
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.session_id = session_id
        self.session_type = session_type
        self.properties = properties
        self.core = AgentChannelCore(self._loop.time(), config=config)
        self.stats = SessionStats()
        self.client_id: str | None = None
        self.client_version: str | None = None
        self.close_reason: str | None = None
        self.ended = asyncio.Event()
        self._app_factory = app_factory
        self._app: SessionApp | None = None
        self._app_task: asyncio.Task[None] | None = None
        self._plan = faults
        self._faults = FrameFaults(faults, session_id)
        self._meter = meter
        self._on_end = on_end
        self._orphan_timeout = orphan_timeout
        self._orphan_timer: asyncio.TimerHandle | None = None
        self._flush_limits = flush
        self._attached_at = self._detached_at = self._loop.time()
        self._said_goodbye = False  # the last websocket ended with the client's close frame
        self._held: collections.deque[bytes] = collections.deque()  # client data, target busy
        self._held_feeder: asyncio.Task[None] | None = None
        self._ws: ServerConnection | None = None
        self._started = False
        self._driver = CoreDriver(self.core, self._pump, self._loop)
        self._writable = asyncio.Event()
        self._all_acked = asyncio.Event()
        self._ending: asyncio.Task[None] | None = None
        self._flushing = False  # ending gracefully: waiting for the client's acks
        self._hurry = False  # an ungraceful finish() came during that wait: cut it short
        self._calm_timer: asyncio.TimerHandle | None = None
        self._release_timer: asyncio.TimerHandle | None = None
        self._drop_marks = {"sent": 0, "received": 0, "total": 0}

    # -- introspection

    @property
    def core_stats(self) -> ChannelStats:
        return self.core.stats

    @property
    def attached(self) -> bool:
        return self._ws is not None

    @property
    def is_ending(self) -> bool:
        return self._ending is not None

    @property
    def resumable(self) -> bool:
        """Whether a client may still resume: not ending, or ending gracefully and still
        waiting for its acks (a websocket that dropped then would otherwise strand the data
        the session is flushing, and the client would fail with it unread)."""
        return not self.ended.is_set() and (self._ending is None or self._flushing)

    # -- websocket lifecycle

    async def serve(self, ws: ServerConnection, open_text: str) -> None:
        """Run one websocket (its OpenDataChannel text already checked) until it closes."""
        old = self._ws
        if old is not None:  # the client gave up on a socket we still think is alive
            self._detach(old)
            old.transport.abort()
        now = self._loop.time()
        self._ws = ws
        self._attached_at = now
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
            self._orphan_timer = None
        self.stats.connections += 1
        self.client_id = self.core.accept_open(open_text).client_id
        if not self._started:
            self._started = True
            self.core.start_session(now, self.session_type, self.properties)
        else:
            self.stats.resumes += 1
            self.core.connection_resumed(now)
        self._pump()
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    self._on_websocket_frame(message)
        except ConnectionClosed:
            pass
        finally:
            self._detach(ws)

    def _on_websocket_frame(self, frame: bytes) -> None:
        """Back-pressure without deadlock: while the target is congested, client data waits
        here unprocessed (so unacked: the client's window stops it), but acks still go to the
        core at once, or our own output would stall behind the target (an echo target would
        then deadlock both ways)."""
        app = self._app
        flowing = not self._held and (app is None or not app.congested())
        if flowing or message_type_of(frame) == _ACK:
            self._on_frame(frame)
        elif len(self._held) < _HELD_LIMIT:  # beyond: dropped, the client resends it
            self._held.append(frame)
            if self._held_feeder is None or self._held_feeder.done():
                self._held_feeder = self._loop.create_task(self._feed_held_when_clear())

    async def _feed_held_when_clear(self) -> None:
        while self._held and self._app is not None:
            await self._app.flow_control()
            while self._held and not self._app.congested():
                self._on_frame(self._held.popleft())
        self._held.clear()

    def _detach(self, ws: ServerConnection) -> None:
        if self._ws is ws:
            self._ws = None
            self._detached_at = self._loop.time()
            received = ws.protocol.close_rcvd
            self._said_goodbye = received is not None and received.code in _GOODBYE
            self.core.connection_lost(self._detached_at)
            if self._orphan_timeout is not None and self._ending is None:
                self._orphan_timer = self._loop.call_later(self._orphan_timeout, self._orphaned)

    def _orphaned(self) -> None:
        """Nobody resumed in time: end the session, as the service does for a vanished client."""
        self._orphan_timer = None
        if self._ws is None:
            self.finish("", graceful=False)

    def _drop_connection(self) -> None:
        ws = self._ws
        if ws is None:
            return
        self.stats.drops_injected += 1
        log.debug("session %s: injected websocket drop", self.session_id)
        self._detach(ws)
        ws.transport.abort()

    # -- inbound

    def _on_frame(self, frame: bytes) -> None:
        now = self._loop.time()
        meter = self._meter
        if meter is not None and meter.counts(frame):
            self.stats.input_messages += 1
            if meter.record(now):
                self._send_service_frame(MessageType.PAUSE_PUBLICATION)
                self.stats.pauses_sent += 1
                self._arm_calm_check()
        plan = self._plan
        frames = [frame]
        if plan.mangles_frames():
            frames = self._faults.apply(frames, _IN)
            self._arm_release()
        if plan.delay > 0:
            self._loop.call_later(plan.delay, self._feed, frames)
        else:
            self._feed(frames)

    def _feed(self, frames: list[bytes]) -> None:
        now = self._loop.time()
        for frame in frames:
            self.core.receive(frame, now)
        self._check_drop()
        self._driver.soon()

    # -- outbound

    def _send_service_frame(self, message_type: MessageType) -> None:
        if self._ws is not None:
            write_batch(self._ws, [_service_frame(message_type)])

    def _transmit(self, frames: list[bytes]) -> None:
        ws = self._ws
        if ws is None:
            return
        plan = self._plan
        if plan.mangles_frames():
            frames = self._faults.apply(frames, _OUT)
            self._arm_release()
        if not frames:
            return
        if plan.delay > 0:
            self._loop.call_later(plan.delay, write_batch, ws, frames)
        else:
            write_batch(ws, frames)

    def _arm_release(self) -> None:
        faults = self._faults
        self.stats.frames_dropped = faults.dropped
        self.stats.frames_duplicated = faults.duplicated
        self.stats.frames_reordered = faults.reordered
        if self._release_timer is None:
            self._release_timer = self._loop.call_later(_REORDER_RELEASE, self._release_held)

    def _release_held(self) -> None:
        self._release_timer = None
        inbound = self._faults.release(_IN)
        if inbound:
            self._feed(inbound)
        outbound = self._faults.release(_OUT)
        if outbound and self._ws is not None:
            write_batch(self._ws, outbound)

    def _arm_calm_check(self) -> None:
        if self._calm_timer is None:
            self._calm_timer = self._loop.call_later(_CALM_CHECK, self._calm_check)

    def _calm_check(self) -> None:
        self._calm_timer = None
        meter = self._meter
        if meter is None or not meter.paused:
            return
        if meter.calmed(self._loop.time()):
            self._send_service_frame(MessageType.START_PUBLICATION)
            self.stats.starts_sent += 1
        else:
            self._arm_calm_check()

    def _check_drop(self) -> None:
        plan = self._plan
        if not (
            plan.drop_every_bytes or plan.drop_every_bytes_sent or plan.drop_every_bytes_received
        ):
            return
        if plan.max_drops is not None and self.stats.drops_injected >= plan.max_drops:
            return
        stats = self.core.stats
        counts = {
            "sent": (plan.drop_every_bytes_sent, stats.bytes_sent),
            "received": (plan.drop_every_bytes_received, stats.bytes_received),
            "total": (plan.drop_every_bytes, stats.bytes_sent + stats.bytes_received),
        }
        for key, (every, seen) in counts.items():
            if every and seen - self._drop_marks[key] >= every:
                self._drop_marks = {
                    "sent": stats.bytes_sent,
                    "received": stats.bytes_received,
                    "total": stats.bytes_sent + stats.bytes_received,
                }
                self._drop_connection()
                return

    # -- the pump

    def _pump(self) -> None:
        core = self.core
        for event in core.events():
            self._dispatch(event)
        if self._ws is not None:
            frames = core.frames_to_send(self._loop.time())
            if frames:
                self._transmit(frames)
                self._check_drop()
        if core.writable() > 0:
            self._writable.set()
        if core.all_acknowledged():
            self._all_acked.set()
        else:
            self._all_acked.clear()
        self._driver.arm()

    def _dispatch(self, event: Event) -> None:
        match event:
            case DataReceived(data=data, payload_type=payload_type):
                if self._app is not None:
                    self._app.on_data(data, payload_type)
            case FlagReceived(flag=flag):
                if flag == Flag.TERMINATE_SESSION:
                    self.finish("")
                elif self._app is not None:
                    self._app.on_flag(flag)
            case HandshakeResponded(client_version=version):
                self.client_version = version
            case SessionReady():
                self._start_app()
            case SessionFailed(reason=reason):
                self.finish(reason, graceful=False)
            case ChannelClosed():
                self.finish("", graceful=False)
            case _:
                pass

    # -- the application

    def _start_app(self) -> None:
        if self._app is not None or self._ending is not None:
            return
        if self.client_version is None:
            self.client_version = self.core.peer_version
        self._app = self._app_factory(self)
        self._app_task = self._loop.create_task(self._run_app(self._app))

    async def _run_app(self, app: SessionApp) -> None:
        try:
            reason = await app.run()
        except ConnectionError:  # the channel ended under the app
            reason = ""
        except Exception as exc:  # the target failed in a way the app did not expect
            log.exception("session %s: application failed", self.session_id)
            reason = f"session failed: {type(exc).__name__}"
        self.finish(reason)

    # ChannelIO
    async def write(self, data: bytes) -> None:
        """Queue output for the client, waiting while the core pushes back."""
        view = memoryview(data)
        while view:
            if self._ending is not None or self.core.state in (State.CLOSED, State.FAILED):
                raise ConnectionResetError("session is closing")
            accepted = self.core.send(bytes(view), self._loop.time())
            if accepted:
                view = view[accepted:]
                self._driver.soon()
            if view:
                self._writable.clear()
                await self._writable.wait()

    def send_flag(self, flag: Flag) -> None:
        if self._ending is not None or self.core.state in (State.CLOSED, State.FAILED):
            return
        self.core.send_flag(flag, self._loop.time())
        self._driver.soon()

    # -- ending

    def finish(self, reason: str, *, graceful: bool = True) -> None:
        """End the session: stop the target, flush, send channel_closed, close the socket.

        Already ending gracefully, an ungraceful call (``stop()``) ends the wait for acks."""
        if self._ending is None:
            self._ending = self._loop.create_task(self._finish(reason, graceful))
        elif not graceful:
            self._hurry = True

    async def wait_ended(self) -> None:
        await self.ended.wait()

    async def _flush(self) -> None:
        """Wait until the client has acked all output, within ``FlushLimits``: a client that
        keeps acking, or that may still resume, gets its data before channel_closed (one that
        closed its websocket itself will not: it is done reading). Checked a few times a
        second, so the hot path (``_pump``) carries nothing for it."""
        limits, core, loop = self._flush_limits, self.core, self._loop
        started = loop.time()
        acked, progressed = -1, started
        poll = min(0.25, limits.stall / 4)
        while not core.all_acknowledged():
            now = loop.time()
            done = core.stats.messages_sent - core.in_flight  # messages acked so far
            if done != acked:
                acked, progressed = done, now
            if self._hurry or now - started >= limits.total:
                break
            if self._ws is None:
                window = self._orphan_timeout
                if self._said_goodbye or (window is not None and now - self._detached_at >= window):
                    break
            elif now - max(progressed, self._attached_at) >= limits.stall:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll):
                    await self._all_acked.wait()
        if not core.all_acknowledged():
            log.info(
                "session %s: ending with output the client never acknowledged", self.session_id
            )

    async def _finish(self, reason: str, graceful: bool) -> None:
        try:
            task = self._app_task
            if task is not None and task is not asyncio.current_task() and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self._app is not None:
                with contextlib.suppress(Exception):
                    await self._app.aclose()
            self._writable.set()  # wake writers blocked on back-pressure; they see the end
            if graceful and self._started:
                self._flushing = True
                try:
                    await self._flush()
                finally:
                    self._flushing = False
            self.close_reason = reason
            self.core.close_channel(self._loop.time(), reason, self.session_id)
            self._pump()
            ws = self._ws
            if ws is not None:
                if self._plan.delay > 0:  # let the delayed frames, channel_closed last, go out
                    await asyncio.sleep(self._plan.delay)
                await ws.close()
        finally:
            self._driver.stop()
            for timer in (self._calm_timer, self._release_timer, self._orphan_timer):
                if timer is not None:
                    timer.cancel()
            self._calm_timer = self._release_timer = self._orphan_timer = None
            if self._held_feeder is not None:
                self._held_feeder.cancel()
            self._held.clear()
            self.ended.set()
            self._on_end(self)
