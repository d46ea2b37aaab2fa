"""The daemon's websocket server: connections, request dispatch, notifications, stream upgrade.

Every request runs in its own task so a slow method (opening a data channel) never holds up
``daemon.status`` on the same connection; responses may therefore arrive out of order and
clients match them by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve, unix_serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse

import bridge
from bridge.daemon import rpc
from bridge.daemon.auth import check_handshake
from bridge.daemon.dispatch import Api
from bridge.daemon.rpc import ApiError
from bridge.daemon.stream import RawStream, StreamClosed

log = logging.getLogger("smconnect.daemon")

MAX_MESSAGE = 4 * 1024 * 1024
SHUTDOWN_GRACE = 10.0
_WS_OPTIONS: dict[str, Any] = {
    # Local peers: a dead one is seen by the kernel, and pings would time out on a stream
    # held up by back-pressure. Stream bytes are ssh ciphertext: compression only costs.
    "ping_interval": None,
    "compression": None,
    "max_size": MAX_MESSAGE,
    "server_header": None,
}


class Connection:
    """One client connection, as the daemon logic sees it."""

    _ids = itertools.count(1)

    def __init__(self, server: DaemonServer, ws: ServerConnection) -> None:
        self.id = next(self._ids)
        self.server = server
        self._ws = ws
        self.stream: RawStream | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def closed(self) -> bool:
        return self._ws.close_code is not None

    @property
    def may_carry_credentials(self) -> bool:
        """Exported credentials are accepted over the same-uid unix socket, or over the TCP
        fallback only when its handshake checked the token (never over an open TCP port)."""
        return self.server.transport == "unix" or self.server.token is not None

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> bool:
        """Push a notification; False (not an error) if the client has already gone."""
        try:
            await self._ws.send(rpc.encode_request(method, params or {}, None))
        except ConnectionClosed:
            return False
        return True

    def start_stream(self) -> RawStream:
        """Turn this connection into a raw byte stream once the current call succeeds.

        Call it from the handler of the upgrading method (``proxy.open``) after the target is
        reachable; writes wait until the success response is on the wire, and if the handler
        fails afterwards the stream is closed and the connection stays plain JSON-RPC.
        """
        if self.stream is not None:
            raise ApiError("this connection already carries a stream", kind="stream_exists")
        self.stream = RawStream(self._ws, opened=False)
        return self.stream

    def spawn(self, coro: Any) -> asyncio.Task[None]:
        """Run work tied to this connection; it is cancelled when the connection ends."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if isinstance(exc, StreamClosed):
            log.debug("connection %d: stream closed under a task", self.id)
        elif exc is not None:
            log.error("connection %d: task failed", self.id, exc_info=exc)

    async def _send(self, text: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(text)

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class DaemonServer:
    def __init__(self, api: Api, *, token: str | None = None) -> None:
        self.api = api
        self.token = token
        self.connections: set[Connection] = set()
        self.started = time.monotonic()
        self.endpoint = ""
        self.transport = ""
        self.shutdown_requested = asyncio.Event()
        self.busy: Callable[[], bool] = lambda: False
        """Set by the session logic: True while it holds sessions that must keep us alive."""
        self.fd_listener: Callable[[Path], Awaitable[None]] | None = None
        """Set by the session logic: starts the descriptor hand-off socket (unix transport only;
        ``bridge.daemon.fdpass``). Closed by the logic's own shutdown callback."""
        self._idle_since: float | None = time.monotonic()
        self._server: Server | None = None
        self._own_uid = os.getuid()
        self._shutdown_callbacks: list[Callable[[], Awaitable[None]]] = []
        _install_builtins(api, self)

    async def start_unix(self, path: Path) -> None:
        self._server = await unix_serve(
            self._handle, str(path), process_request=self._process_request, **_WS_OPTIONS
        )
        os.chmod(path, 0o600)
        self.endpoint, self.transport = str(path), "unix"

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await serve(
            self._handle, host, port, process_request=self._process_request, **_WS_OPTIONS
        )
        bound = int(next(iter(self._server.sockets)).getsockname()[1])
        self.endpoint, self.transport = f"{host}:{bound}", "tcp"
        return bound

    def on_shutdown(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` when the daemon stops, before connections are closed.

        For the session logic to end its channels cleanly (streams closed with a reason rather
        than cut); each callback gets ``SHUTDOWN_GRACE`` seconds.
        """
        self._shutdown_callbacks.append(callback)

    async def close(self) -> None:
        callbacks, self._shutdown_callbacks = self._shutdown_callbacks, []
        for callback in reversed(callbacks):
            try:
                await asyncio.wait_for(callback(), SHUTDOWN_GRACE)
            except Exception:
                log.exception("a shutdown callback failed")
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def idle_for(self) -> float:
        """Seconds with no connection and not busy (0 while anything is going on)."""
        if self.connections or self.busy():
            self._idle_since = None
            return 0.0
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        return now - self._idle_since

    async def broadcast(self, method: str, params: dict[str, Any] | None = None) -> int:
        """Notify every JSON-RPC connection (stream connections are left out); returns count."""
        targets = [c for c in self.connections if c.stream is None]
        sent = await asyncio.gather(*(c.notify(method, params) for c in targets))
        return sum(sent)

    def _process_request(self, ws: ServerConnection, request: HttpRequest) -> HttpResponse | None:
        reason = check_handshake(
            request.headers,
            ws.transport.get_extra_info("socket"),
            own_uid=self._own_uid,
            token=self.token,
        )
        if reason is None:
            return None
        log.warning("refused a connection: %s", reason)
        return ws.respond(http.HTTPStatus.FORBIDDEN, f"{reason}\n")

    async def _handle(self, ws: ServerConnection) -> None:
        conn = Connection(self, ws)
        self.connections.add(conn)
        self._idle_since = None
        log.debug("connection %d opened", conn.id)
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    if conn.stream is None or not conn.stream.accepting:
                        await ws.close(1003, "binary data outside stream mode")
                        break
                    await conn.stream.feed(message)
                else:
                    await self._on_text(conn, message)
        except ConnectionClosed:
            pass
        finally:
            self.connections.discard(conn)
            if conn.stream is not None:
                conn.stream.connection_lost(ws.close_code, ws.close_reason)
            conn._cancel_tasks()
            log.debug("connection %d closed", conn.id)

    async def _on_text(self, conn: Connection, text: str) -> None:
        try:
            msg = rpc.parse_message(text)
        except ApiError as exc:
            await conn._send(rpc.encode_error(rpc.request_id(text), exc.to_error()))
            return
        if isinstance(msg, rpc.Request):
            conn.spawn(self._run(conn, msg))
        # Responses from a client are not expected (the daemon makes no calls): ignored.

    async def _run(self, conn: Connection, req: rpc.Request) -> None:
        before = conn.stream
        log.debug("connection %d: %s", conn.id, req.method[:100])  # never the params
        try:
            if "credentials" in req.params and not conn.may_carry_credentials:
                raise rpc.invalid_params(
                    "credentials are accepted only over the daemon's unix socket or its "
                    "token-checked TCP fallback"
                )
            result = await self.api.call(conn, req.method, req.params)
        except ApiError as exc:
            self._fail_new_stream(conn, before)
            if req.id is not None:
                await conn._send(rpc.encode_error(req.id, exc.to_error()))
            return
        except Exception:
            log.exception("method %s failed", req.method[:100])
            self._fail_new_stream(conn, before)
            if req.id is not None:
                error = ApiError("internal error", kind="internal", code=rpc.INTERNAL_ERROR)
                await conn._send(rpc.encode_error(req.id, error.to_error()))
            return
        try:
            text = rpc.encode_result(req.id, result)
        except (TypeError, ValueError):
            log.exception("method %s returned a non-JSON result", req.method[:100])
            self._fail_new_stream(conn, before)
            error = ApiError("internal error", kind="internal", code=rpc.INTERNAL_ERROR)
            text = rpc.encode_error(req.id, error.to_error())
        upgraded = conn.stream if conn.stream is not before else None
        if upgraded is not None:
            upgraded.accept()
        if req.id is not None:
            await conn._send(text)
        if upgraded is not None:
            upgraded.start()

    @staticmethod
    def _fail_new_stream(conn: Connection, before: RawStream | None) -> None:
        if conn.stream is not None and conn.stream is not before:
            conn.stream.connection_lost()
            conn.stream = None


def _version() -> str:
    # An editable install made before bridge/ had an __init__ imports it as a namespace package.
    found = getattr(bridge, "__version__", None)
    if isinstance(found, str):
        return found
    from importlib.metadata import version

    return version("smconnect")


def _install_builtins(api: Api, server: DaemonServer) -> None:
    async def status(conn: Connection, params: None) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "version": _version(),
            "uptime": round(time.monotonic() - server.started, 3),
            "transport": server.transport,
            "endpoint": server.endpoint,
            "connections": len(server.connections),
            "busy": server.busy(),
        }

    async def shutdown(conn: Connection, params: None) -> dict[str, Any]:
        # Answer first: the event loop finishes sending before the lifecycle closes us.
        asyncio.get_running_loop().call_soon(server.shutdown_requested.set)
        return {"ok": True}

    api.add("daemon.status", status)
    api.add("daemon.shutdown", shutdown)
