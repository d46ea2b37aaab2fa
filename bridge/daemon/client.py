"""Client of the local daemon, for the CLI and the ssh ProxyCommand relay.

Import graph: stdlib + websockets only (a test enforces it), because the relay starts for
every ssh connection. Nobody starts the daemon by hand: ``connect(autostart=True)`` spawns
``python -m bridge.daemon`` when nothing answers and waits for its socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import os
import subprocess  # asyncio imports it anyway
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.client import unix_connect as ws_unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bridge.daemon import rpc
from bridge.daemon.stream import RawStream
from bridge.paths import (
    DaemonPaths,
    RuntimeDirError,
    default_paths,
    lock_held,
    transport_kind,
    verify_private_dir,
)
from bridge.redact import redact

__all__ = [
    "CallTimeout",
    "DaemonClient",
    "DaemonError",
    "DaemonUnavailable",
    "NotificationHandler",
    "RawStream",
    "RpcError",
]

NotificationHandler = Callable[[str, dict[str, Any]], object]
"""``cb(method, params)``; may return an awaitable, which is run as a task."""

_WS_OPTIONS: dict[str, Any] = {
    "ping_interval": None,
    "compression": None,
    "max_size": 4 * 1024 * 1024,
    "proxy": None,  # never route the loopback fallback through $HTTP_PROXY
    "user_agent_header": None,
}
_log = logging.getLogger("smconnect.client")
_NO_DAEMON = (OSError, ValueError, KeyError, InvalidHandshake, TimeoutError)


class DaemonError(Exception):
    """Base of everything this client raises."""


class DaemonUnavailable(DaemonError):
    """No daemon could be reached or started, or the connection to it was lost."""


class CallTimeout(DaemonError, TimeoutError):
    """The daemon did not answer a call within its timeout."""


class RpcError(DaemonError):
    """The daemon answered with a JSON-RPC error; branch on ``kind``, show ``message``."""

    def __init__(
        self, code: int, message: str, kind: str, data: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{message} ({kind})")
        self.code = code
        self.message = message
        self.kind = kind
        self.data = data or {}

    @classmethod
    def from_error(cls, error: dict[str, Any]) -> RpcError:
        data = error.get("data")
        data = data if isinstance(data, dict) else {}
        code = error.get("code")
        return cls(
            code if isinstance(code, int) else rpc.INTERNAL_ERROR,
            str(error.get("message", "error")),
            str(data.get("kind", "unknown")),
            data,
        )


class DaemonClient:
    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._call_handlers: dict[int, NotificationHandler] = {}
        self._subscribers: list[NotificationHandler] = []
        self._stream: RawStream | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader = asyncio.create_task(self._read_loop())

    # Connecting -----------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        *,
        autostart: bool = True,
        connect_timeout: float = 5.0,
        start_timeout: float = 15.0,
        paths: DaemonPaths | None = None,
    ) -> DaemonClient:
        paths = paths or default_paths()
        transport = transport_kind()
        try:
            ws = await _dial(paths, transport, connect_timeout)
        except RuntimeDirError as exc:
            raise DaemonUnavailable(str(exc)) from None
        except _NO_DAEMON as exc:
            if not autostart:
                raise DaemonUnavailable(
                    f"the smconnect daemon is not running ({_describe(exc)})"
                ) from None
            ws = await _autostart(paths, transport, connect_timeout, start_timeout)
        return cls(ws)

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        *,
        autostart: bool = True,
        connect_timeout: float = 5.0,
        start_timeout: float = 15.0,
        paths: DaemonPaths | None = None,
    ) -> AsyncIterator[DaemonClient]:
        client = await cls.open(
            autostart=autostart,
            connect_timeout=connect_timeout,
            start_timeout=start_timeout,
            paths=paths,
        )
        try:
            yield client
        finally:
            await client.close()

    # Calls and notifications ---------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._reader.done()

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        on_notification: NotificationHandler | None = None,
    ) -> Any:
        """Call ``method``; ``on_notification`` sees every notification while the call runs."""
        if self.closed:
            raise DaemonUnavailable("the connection to the smconnect daemon is closed")
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        if on_notification is not None:
            self._call_handlers[call_id] = on_notification
        try:
            await self._ws.send(rpc.encode_request(method, params or {}, call_id))
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise CallTimeout(f"the daemon did not answer {method} within {timeout:g}s") from None
        except ConnectionClosed:
            raise DaemonUnavailable("the connection to the smconnect daemon was lost") from None
        finally:
            self._pending.pop(call_id, None)
            self._call_handlers.pop(call_id, None)

    def subscribe(self, handler: NotificationHandler) -> Callable[[], None]:
        """Receive every notification on this connection; returns the unsubscribe function."""
        self._subscribers.append(handler)
        return lambda: self._subscribers.remove(handler)

    async def open_stream(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        on_notification: NotificationHandler | None = None,
    ) -> RawStream:
        """Call an upgrading method (``proxy.open``) and return the raw byte stream.

        Use a dedicated connection: once upgraded it carries this stream until closed. On a
        timeout the connection is closed, since the daemon may still upgrade it later.
        """
        if self._stream is not None:
            raise DaemonError("this connection already carries a stream")
        stream = RawStream(self._ws)
        self._stream = stream
        try:
            await self.call(method, params, timeout=timeout, on_notification=on_notification)
        except CallTimeout:
            await self.close()
            raise
        except BaseException:
            self._stream = None
            raise
        return stream

    async def close(self) -> None:
        if self._stream is not None:
            # Unblock a reader stuck on a full inbox so the close handshake can be read.
            self._stream.connection_lost()
        await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read_loop(self) -> None:
        try:
            async for message in self._ws:
                if isinstance(message, bytes):
                    if self._stream is not None:
                        await self._stream.feed(message)
                    continue
                self._on_text(message)
        except ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(
                        DaemonUnavailable("the connection to the smconnect daemon was lost")
                    )
            if self._stream is not None:
                self._stream.connection_lost(self._ws.close_code, self._ws.close_reason)

    def _on_text(self, text: str) -> None:
        try:
            msg = rpc.parse_message(text)
        except rpc.ApiError:
            return  # a daemon bug; nothing useful a client can do with it
        if isinstance(msg, rpc.Response):
            future = self._pending.get(msg.id) if isinstance(msg.id, int) else None
            if future is None or future.done():
                return
            if msg.error is not None:
                future.set_exception(RpcError.from_error(msg.error))
            else:
                future.set_result(msg.result)
            return
        for handler in [*self._call_handlers.values(), *self._subscribers]:
            try:
                outcome = handler(msg.method, msg.params)
            except Exception:  # a caller's callback must not kill the connection
                _log.exception("notification handler failed")
                continue
            if inspect.isawaitable(outcome):
                task = asyncio.ensure_future(outcome)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)


# Reaching and starting the daemon -------------------------------------------------------------


async def _dial(paths: DaemonPaths, transport: str, timeout: float) -> ClientConnection:
    verify_private_dir(paths.runtime_dir)
    if transport == "unix":
        return await ws_unix_connect(
            str(paths.socket), uri="ws://localhost/", open_timeout=timeout, **_WS_OPTIONS
        )
    endpoint = json.loads(paths.tcp_endpoint.read_text())
    port, token = int(endpoint["port"]), str(endpoint["token"])
    return await ws_connect(
        f"ws://127.0.0.1:{port}/",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=timeout,
        **_WS_OPTIONS,
    )


async def _autostart(
    paths: DaemonPaths, transport: str, connect_timeout: float, start_timeout: float
) -> ClientConnection:
    """Spawn the daemon and wait for it; concurrent callers converge on the lock's winner."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + start_timeout
    proc = _spawn(paths)
    while True:
        await asyncio.sleep(0.02)
        try:
            ws = await _dial(paths, transport, connect_timeout)
        except RuntimeDirError as exc:
            raise DaemonUnavailable(f"the smconnect daemon did not start: {exc}") from None
        except _NO_DAEMON:
            pass
        else:
            _reap_later(proc)
            return ws
        code = proc.poll()
        if code is not None and code != 0:
            raise DaemonUnavailable(f"the smconnect daemon did not start: {_last_line(paths)}")
        if code == 0 and not lock_held(paths.lock):
            # It lost the lock race to a daemon that has since exited (idle, shutdown): again.
            proc = _spawn(paths)
        if loop.time() >= deadline:
            _reap_later(proc)
            raise DaemonUnavailable(f"the smconnect daemon did not start: {_last_line(paths)}")


def _spawn(paths: DaemonPaths) -> subprocess.Popen[bytes]:
    paths.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    err = os.open(paths.stderr_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    env = dict(os.environ)
    source_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "bridge.daemon"],
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
            cwd="/",
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(err)


def _reap_later(proc: subprocess.Popen[bytes]) -> None:
    """Collect the daemon's exit status whenever it comes, so a long-lived client leaves no zombie."""
    threading.Thread(target=proc.wait, name="smconnect-daemon-reaper", daemon=True).start()


def _last_line(paths: DaemonPaths) -> str:
    for path in (paths.stderr_log, paths.log):
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 8192))
                lines = [
                    ln for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()
                ]
        except OSError:
            continue
        if lines:
            return redact(lines[-1].strip())
    return "(no log output)"


def _describe(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")
