"""Lanes and the scheduler that spreads work over them.

A ``Lane`` is one helper process (in the space: on an exec channel of its own SSM session) with
pipelined requests: replies come back in order, so a FIFO of futures matches them. The
``Scheduler`` runs many requests per lane at once (few of them chunks); when a lane dies its unfinished items
go back to the queue for the others, and the transfer fails only when every lane has died.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bridge.transfer import helper

__all__ = ["HelperLane", "Item", "Lane", "LaneDead", "Scheduler", "TransferError"]

Frame = tuple[str, dict[str, Any], bytes]


class TransferError(Exception):
    """A transfer that cannot complete; the message is one line for the user."""


class LaneDead(Exception):
    """The lane's helper or channel is gone; its work goes to the other lanes."""


class Reader(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...


class Lane:
    """What the engine and the scheduler need of a lane, whatever carries it: ``request``
    answers a helper-protocol request (``ok``/``chunk`` frame, ``TransferError`` for an ``err``,
    ``LaneDead`` when the lane is gone). ``method`` names the carrier for the summary."""

    method = "helper"

    def __init__(self, index: int) -> None:
        self.index = index
        self.wire_bytes = 0  # bytes written to and read from the channel
        self.error: str | None = None

    @property
    def dead(self) -> bool:
        return self.error is not None

    async def request(self, kind: str, header: dict[str, Any], data: bytes = b"") -> Frame:
        raise NotImplementedError

    def pack(self, data: bytes) -> tuple[int, bytes]:
        """(flags, payload) for a ``put``: the helper takes zlib where it pays."""
        return helper.pack(data)

    async def close(self) -> None:
        raise NotImplementedError


class HelperLane(Lane):
    """The helper in the space over an exec channel, requests pipelined."""

    def __init__(
        self,
        index: int,
        reader: Reader,
        writer: Writer,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(index)
        self._reader = reader
        self._writer = writer
        self._close = close
        self._pending: collections.deque[asyncio.Future[Frame]] = collections.deque()
        self._ids = itertools.count()
        self._decoder = helper.Decoder()
        self._pump: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Send the helper's source (the exec command reads exactly that many bytes) and wait
        for its hello."""
        hello: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending.append(hello)
        self._pump = asyncio.create_task(self._read_replies())
        await self._send(helper.source())
        await hello

    async def request(self, kind: str, header: dict[str, Any], data: bytes = b"") -> Frame:
        if self.error is not None:
            raise LaneDead(self.error)
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending.append(fut)
        await self._send(helper.encode(kind, {**header, "id": next(self._ids)}, data))
        reply = await fut
        if reply[0] == "err":
            raise TransferError(reply[1].get("message", "the helper failed"))
        return reply

    async def _send(self, frame: bytes) -> None:
        try:
            self._writer.write(frame)
            await self._writer.drain()
        except Exception as exc:
            self._die(f"lane {self.index}: {exc or type(exc).__name__}")
            raise LaneDead(self.error) from None
        self.wire_bytes += len(frame)

    async def _read_replies(self) -> None:
        try:
            while block := await self._reader.read(1 << 20):
                self.wire_bytes += len(block)
                for frame in self._decoder.feed(block):
                    if self._pending:
                        fut = self._pending.popleft()
                        if not fut.done():
                            fut.set_result(frame)
            self._die(f"lane {self.index}: the helper ended")
        except Exception as exc:
            self._die(f"lane {self.index}: {exc or type(exc).__name__}")

    def _die(self, reason: str) -> None:
        if self.error is None:
            self.error = reason
        while self._pending:
            fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(LaneDead(reason))

    async def close(self) -> None:
        if self.error is None:
            with contextlib.suppress(Exception):
                self._writer.write(helper.encode("bye", {}))
                await self._writer.drain()
        self._die(f"lane {self.index}: closed")
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(BaseException):
                await self._pump
        if self._close is not None:
            with contextlib.suppress(Exception):
                await self._close()


class Item(Protocol):
    """One unit of work; ``run`` may be retried on another lane when its lane dies, and
    returns the items it makes ready (e.g. a file's finish after its last chunk). A ``heavy``
    item (a large file's chunk: megabytes in memory) counts against the lane's ``window``."""

    @property
    def heavy(self) -> bool: ...

    async def run(self, lane: Lane) -> list[Item]: ...


Grow = Callable[[Callable[[Lane], None]], Awaitable[None]]


class Scheduler:
    """Items over lanes: per lane ``requests`` workers for light items and ``window`` for heavy
    ones (a chunk each). Small files need the many: each is a round trip through SSM for a few
    KiB, so a lane is bandwidth-bound only with tens of them in flight, while chunks need few and
    would cost ``requests`` times the chunk size of memory.

    Heavy and light items wait in separate queues, so a worker takes a chunk only when it can
    send it at once: with one queue, the first lane's workers took every item at the start and
    queued the chunks behind their own lane's window, leaving the other lanes idle (a file of 8
    chunks over 8 lanes went over one). Workers start interleaved across lanes, so the first
    chunks go one per lane. A ``grow`` task may add lanes while the run goes on (``auto``); the
    run fails only when every lane's workers have ended with work left and no lane is still
    being added."""

    def __init__(self, lanes: list[Lane], *, window: int = 4, requests: int = 32) -> None:
        self._lanes = list(lanes)
        self._window = window
        self._requests = requests
        self._heavy: asyncio.Queue[Item] = asyncio.Queue()
        self._light: asyncio.Queue[Item] = asyncio.Queue()
        self._outstanding = 0
        self._done = asyncio.Event()
        self._failure: BaseException | None = None
        self._workers: set[asyncio.Task[None]] = set()
        self._idle: dict[int, set[asyncio.Task[None]]] = {}  # id(lane): its workers in get()
        self._growing = False

    @property
    def lanes(self) -> list[Lane]:
        return list(self._lanes)

    async def run(self, items: list[Item], grow: Grow | None = None) -> None:
        for item in items:
            self._add(item)
        if not self._outstanding:
            return
        self._start_workers(self._lanes)
        grower = asyncio.create_task(self._grow(grow)) if grow is not None else None
        try:
            await self._done.wait()
        finally:
            tasks = [*self._workers, *([grower] if grower else [])]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._failure is not None:
            raise self._failure

    def add_lane(self, lane: Lane) -> None:
        """A lane opened during the run: its workers join at once."""
        self._lanes.append(lane)
        if not self._done.is_set():
            self._start_workers([lane])

    async def _grow(self, grow: Grow) -> None:
        self._growing = True
        try:
            await grow(self.add_lane)
        finally:
            self._growing = False
            self._check_lanes()

    def _start_workers(self, lanes: list[Lane]) -> None:
        """The lanes' workers, round by round across the lanes (tasks run, and so take their
        first item, in the order they were made)."""
        for queue, count in ((self._heavy, self._window), (self._light, self._requests)):
            for _ in range(count):
                for lane in lanes:
                    task = asyncio.create_task(self._worker(lane, queue))
                    self._workers.add(task)
                    task.add_done_callback(self._worker_ended)

    def _worker_ended(self, task: asyncio.Task[None]) -> None:
        self._workers.discard(task)
        self._check_lanes()

    def _check_lanes(self) -> None:
        if not self._workers and not self._growing and not self._done.is_set():
            reasons = "; ".join(lane.error or "?" for lane in self._lanes)
            self._fail(TransferError(f"every lane failed ({reasons})"))

    def _add(self, item: Item) -> None:
        self._outstanding += 1
        (self._heavy if item.heavy else self._light).put_nowait(item)

    async def _worker(self, lane: Lane, queue: asyncio.Queue[Item]) -> None:
        idle = self._idle.setdefault(id(lane), set())
        task = asyncio.current_task()
        assert task is not None
        while not lane.dead:
            idle.add(task)
            try:
                item = await queue.get()  # an item stays queued until this returns
            finally:
                idle.discard(task)
            if lane.dead:
                queue.put_nowait(item)
                break
            try:
                more = await item.run(lane)
            except LaneDead:
                queue.put_nowait(item)  # another lane takes it
                break
            except Exception as exc:
                self._fail(exc)
                return
            for new in more:
                self._add(new)
            self._outstanding -= 1
            if not self._outstanding:
                self._done.set()
        self._retire(lane)

    def _retire(self, lane: Lane) -> None:
        """A dead lane's idle workers end too: those waiting on the other queue would
        otherwise wait for ever, and the run could not tell that every lane has failed."""
        for task in list(self._idle.get(id(lane), ())):
            task.cancel()

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._done.set()
