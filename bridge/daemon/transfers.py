"""``transfer.start`` / ``transfer.sync`` / ``transfer.cancel``: striped copies and syncs between
this machine and a space.

A transfer runs inside its ``transfer.start`` request, so it is cancelled when the calling
client goes away (even killed with -9: its websocket closes) as well as by ``transfer.cancel``.
Each lane is an SSH connection of the daemon's own on its own SSM session
(``ChannelPool.open_ssh(purpose="transfer", lane=i)``) running the helper over exec; progress
goes to the caller as ``transfer.progress`` notifications. See docs/design/transfer.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bridge.daemon.dispatch import Api
from bridge.daemon.errors import ApiError, translated
from bridge.daemon.params import SpaceParams
from bridge.daemon.pool import ChannelPool, ManagedChannel
from bridge.daemon.server import Connection
from bridge.daemon.spaces import SpacesService, progress_to
from bridge.daemon.workspace import Workspace
from bridge.paths import default_paths
from bridge.transfer import helper
from bridge.transfer.auto import AUTO_LANES, START_LANES, WINDOW, keep_growing
from bridge.transfer.engine import Options, Stats, copy
from bridge.transfer.lanes import Grow, HelperLane, Lane, LaneDead, TransferError
from bridge.transfer.plan import CHUNK, MAX_CHUNK, MIN_CHUNK
from bridge.transfer.sftp_lane import SftpLane
from bridge.transfer.sync import plan_summary, sync

__all__ = ["AUTO_LANES", "MAX_LANES", "TransferService"]

log = logging.getLogger(__name__)

MAX_LANES = 16
PROGRESS_INTERVAL = 0.25  # seconds between progress notifications

Progress = Callable[[Stats], None]
Runner = Callable[[list[Lane], Options, Progress], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, kw_only=True)
class RunParams(SpaceParams):
    """What a copy and a sync share."""

    direction: Literal["upload", "download"]
    dest: str
    lanes: int | Literal["auto"] = "auto"
    id: str | None = None  # the caller's name for it (for transfer.cancel); made up if absent
    chunk: int = CHUNK  # bytes per piece of a large file (the unit of striping and resume)


@dataclass(frozen=True, kw_only=True)
class TransferParams(RunParams):
    sources: list[str]  # local paths (upload) or paths in the space (download)
    recursive: bool = False


@dataclass(frozen=True, kw_only=True)
class SyncParams(RunParams):
    source: str  # a folder (or file) whose contents ``dest`` is to mirror
    checksum: bool = False  # compare content hashes, not size and mtime
    delete: bool = False  # remove destination entries the source does not have
    exclude: list[str] = field(default_factory=list)  # rsync-like patterns
    dry_run: bool = False  # answer the plan, change nothing


@dataclass(frozen=True, kw_only=True)
class TransferCancelParams:
    id: str


class TransferService:
    def __init__(self, spaces: SpacesService, pool: ChannelPool) -> None:
        self._spaces = spaces
        self._pool = pool
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._ids = itertools.count(1)
        # Runs per destination, oldest first: each one's event is set once its lanes are closed.
        self._writers: dict[tuple[str, str, str], list[asyncio.Event]] = {}

    def register(self, api: Api) -> None:
        api.add("transfer.start", self.transfer_start)
        api.add("transfer.sync", self.transfer_sync)
        api.add("transfer.cancel", self.transfer_cancel)

    def busy(self) -> bool:
        return bool(self._running)

    @translated
    async def transfer_start(self, conn: Connection, params: TransferParams) -> dict[str, Any]:
        async def run(lanes: list[Lane], opts: Options, report: Progress) -> dict[str, Any]:
            stats = await copy(
                params.direction,
                params.sources,
                params.dest,
                lanes,
                recursive=params.recursive,
                progress=report,
                state_dir=opts.state_dir,
                scope=opts.scope,
                chunk=opts.chunk,
            )
            return stats.summary()

        return await self._guarded(conn, params, run)

    @translated
    async def transfer_sync(self, conn: Connection, params: SyncParams) -> dict[str, Any]:
        if not all(isinstance(p, str) and p for p in params.exclude):
            raise ApiError("exclude must be a list of patterns", kind="invalid_params")

        async def run(lanes: list[Lane], opts: Options, report: Progress) -> dict[str, Any]:
            stats, plan = await sync(
                params.direction,
                params.source,
                params.dest,
                lanes,
                checksum=params.checksum,
                delete=params.delete,
                exclude=params.exclude,
                dry_run=params.dry_run,
                progress=report,
                options=opts,
            )
            out = stats.summary() | {"deleted": 0 if params.dry_run else len(plan.delete)}
            return out | ({"plan": plan_summary(plan)} if params.dry_run else {})

        return await self._guarded(conn, params, run)

    async def _guarded(self, conn: Connection, params: RunParams, run: Runner) -> dict[str, Any]:
        """Check the shared parameters, register the run for ``transfer.cancel``, run it."""
        want = START_LANES if params.lanes == "auto" else params.lanes
        if not isinstance(want, int) or not 1 <= want <= MAX_LANES:
            raise ApiError(f"lanes must be 1..{MAX_LANES} or 'auto'", kind="invalid_params")
        if not MIN_CHUNK <= params.chunk <= MAX_CHUNK:
            raise ApiError(f"chunk must be {MIN_CHUNK}..{MAX_CHUNK} bytes", kind="invalid_params")
        tid = params.id or f"transfer-{next(self._ids)}"
        if tid in self._running:
            raise ApiError(f"a transfer {tid!r} is already running", kind="invalid_params")
        task = asyncio.current_task()
        assert task is not None
        self._running[tid] = task
        try:
            return await self._run(conn, params, tid, want, run)
        finally:
            self._running.pop(tid, None)

    async def transfer_cancel(
        self, conn: Connection, params: TransferCancelParams
    ) -> dict[str, Any]:
        task = self._running.get(params.id)
        if task is None:
            raise ApiError(f"no transfer with id {params.id!r}", kind="not_found")
        task.cancel()
        return {"cancelled": params.id}

    async def _run(
        self, conn: Connection, params: RunParams, tid: str, want: int, run: Runner
    ) -> dict[str, Any]:
        ws = self._spaces.workspace(params.context)
        space = await ws.resolve(params.space)
        progress = progress_to(conn, space)
        space = await self._spaces.ensure_running(ws, space, start=True, progress=progress)
        alias = await self._spaces.alias(ws, space)
        dest = _dest_key(params)
        shown = dest if params.direction == "download" else f"{params.space}:{dest}"
        say = functools.partial(
            progress, "waiting", f"waiting for an earlier copy to {shown} to finish"
        )
        async with self._turn((space.arn, params.direction, dest), tid, say):
            return await self._copy(conn, params, tid, want, run, ws, space, alias)

    @contextlib.asynccontextmanager
    async def _turn(
        self, key: tuple[str, str, str], tid: str, waiting: Callable[[], None]
    ) -> AsyncIterator[None]:
        """Wait until every earlier run to the same destination has ended, its lanes closed.

        A CLI killed with -9 cancels its run, but the run's cleanup (in-flight requests, file
        handles closed, lanes shut) goes on for a while; a re-run started meanwhile would take
        over the same partial and manifest while the old lanes still act on them (a cancelled
        SFTP finish removed the partial under the re-run). So the re-run starts only when the
        old run is gone; a second copy to a destination already being written waits its turn,
        and its caller is told why nothing moves yet (a ``progress`` notice, phase ``waiting``)."""
        ended = asyncio.Event()
        queue = self._writers.setdefault(key, [])
        earlier = list(queue)
        queue.append(ended)
        try:
            if earlier:
                log.info(
                    "transfer %s waits for %d earlier run(s) to its destination", tid, len(earlier)
                )
                waiting()
            for event in earlier:
                await event.wait()
            yield
        finally:
            ended.set()
            queue.remove(ended)
            if not queue:
                del self._writers[key]

    async def _copy(
        self,
        conn: Connection,
        params: RunParams,
        tid: str,
        want: int,
        run: Runner,
        ws: Workspace,
        space: Any,
        alias: str,
    ) -> dict[str, Any]:
        opened: list[tuple[ManagedChannel, Lane]] = []
        try:
            strict = params.lanes != "auto"
            opened.extend(await self._open_lanes(ws, space, alias, want, strict=strict))
            last = 0.0

            def report(stats: Stats) -> None:
                nonlocal last
                now = time.monotonic()
                if now - last >= PROGRESS_INTERVAL or stats.files == stats.total_files:
                    last = now
                    conn.spawn(conn.notify("transfer.progress", _progress(tid, stats)))

            state_dir = str(default_paths().state_dir / "transfers")
            grow = None if strict else self._grower(ws, space, alias, opened)
            opts = Options(state_dir=state_dir, scope=space.arn, chunk=params.chunk, grow=grow)
            result = await run([lane for _, lane in opened], opts, report)
        except TransferError as exc:
            raise ApiError(str(exc), kind="transfer") from None
        finally:
            await asyncio.shield(self._close(opened))
        return {"id": tid, **result}

    async def _open_lanes(
        self, ws: Workspace, space: Any, alias: str, want: int, *, strict: bool
    ) -> list[tuple[ManagedChannel, Lane]]:
        """Open ``want`` lanes at once; with ``auto`` (not ``strict``), as many as the service
        grants (at least one)."""
        results = await asyncio.gather(
            *(self._open_lane(ws, space, alias, i) for i in range(want)), return_exceptions=True
        )
        opened = [r for r in results if isinstance(r, tuple)]
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures and (strict or not opened):
            await self._close(opened)
            raise failures[0]
        for exc in failures:
            log.info("transfer: a lane was refused (%s); going on with %d", exc, len(opened))
        return opened

    def _grower(
        self, ws: Workspace, space: Any, alias: str, opened: list[tuple[ManagedChannel, Lane]]
    ) -> Grow:
        """``auto``: measure the lanes' traffic a window at a time and add a lane while
        ``keep_growing`` says so; a refused session (the per-space limit) ends the growth."""

        def moved() -> int:
            return sum(
                m.channel.stats.bytes_sent + m.channel.stats.bytes_received for m, _ in opened
            )

        async def grow(add: Callable[[Lane], None]) -> None:
            history: list[tuple[int, float]] = []
            while True:
                before = moved()
                await asyncio.sleep(WINDOW)
                history.append((len(opened), (moved() - before) / WINDOW))
                if not keep_growing(history):
                    return
                try:
                    lane = await self._open_lane(ws, space, alias, len(opened))
                except Exception as exc:
                    log.info("transfer: no more lanes (%s); going on with %d", exc, len(opened))
                    return
                opened.append(lane)
                add(lane[1])

        return grow

    async def _open_lane(
        self, ws: Workspace, space: Any, alias: str, index: int
    ) -> tuple[ManagedChannel, Lane]:
        managed, ssh = await self._pool.open_ssh(
            ws, space, purpose="transfer", ssh_host=alias, lane=index
        )
        try:
            proc = await ssh.create_process(helper.command(), encoding=None)

            async def close() -> None:
                proc.close()
                ssh.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ssh.wait_closed(), 5.0)

            helper_lane = HelperLane(index, proc.stdout, proc.stdin, close)
            lane: Lane = helper_lane
            try:
                await helper_lane.start()
            except LaneDead:
                proc.close()
                lane = await self._sftp_lane(ssh, index)
        except BaseException:
            ssh.close()
            await self._pool.release(managed)
            raise
        return managed, lane

    async def _sftp_lane(self, ssh: Any, index: int) -> Lane:
        """The fallback where ``python3`` cannot run in the space: SFTP on the same SSH
        connection (see ``bridge/transfer/sftp_lane.py``)."""
        try:
            sftp = await ssh.start_sftp_client()
        except Exception:
            raise TransferError("could not start python3 or SFTP in the space") from None
        log.info("transfer: lane %d falls back to SFTP (python3 did not start)", index)

        async def close() -> None:
            ssh.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ssh.wait_closed(), 5.0)

        return SftpLane(index, sftp, close)

    async def _close(self, opened: list[tuple[ManagedChannel, Lane]]) -> None:
        for managed, lane in opened:
            await lane.close()
            await self._pool.release(managed)


def _dest_key(params: RunParams) -> str:
    """The destination as given, spelt one way: a local one absolute, a remote one relative to
    the space user's home unless absolute (``~/x``, ``./x`` and ``x`` are the same)."""
    if params.direction == "download":
        return os.path.abspath(os.path.expanduser(params.dest))
    dest = params.dest
    dest = dest[2:] if dest.startswith("~/") else "." if dest == "~" else dest
    return posixpath.normpath(dest or ".")


def _progress(tid: str, stats: Stats) -> dict[str, Any]:
    return {
        "id": tid,
        "bytes": stats.bytes,
        "total": stats.total,
        "files": stats.files,
        "total_files": stats.total_files,
        "lanes": stats.lanes,
        "seconds": round(time.monotonic() - stats.started, 3),
        "method": stats.method,
    }
