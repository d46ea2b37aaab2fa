"""``smconnect proxy <host>``: the ssh ProxyCommand relay.

ssh starts this for every connection, so it imports only the stdlib, websockets and the daemon
client (a test guards the import graph). It asks the daemon for a stream into the space's SSH
server and copies bytes between it and stdin/stdout. Progress goes to stderr (ssh shows it);
a failure is one readable line on stderr, also appended to the proxy log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from typing import Any

from bridge.daemon.client import DaemonClient, DaemonError, RawStream, RpcError
from bridge.daemon.paths import default_paths
from bridge.redact import redact

OPEN_TIMEOUT = 900.0  # a cold start (app Pending → InService) can take minutes


class _Args(argparse.Namespace):
    host: str
    profile: str | None
    region: str | None
    endpoint_url: str | None
    no_start: bool


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump: ssh shows stderr verbatim
        raise _ArgumentError(message)


def _parse(argv: list[str]) -> _Args:
    parser = _Parser(prog="smconnect proxy", add_help=False)
    parser.add_argument("--profile")
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--no-start", action="store_true")
    parser.add_argument("host")
    return parser.parse_args(argv, namespace=_Args())


def _say(message: str) -> None:
    sys.stderr.write(f"smconnect: {message}\n")
    sys.stderr.flush()


def _log_failure(message: str) -> None:
    with contextlib.suppress(OSError):
        path = default_paths().state_dir / "proxy.log"
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as log:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()}: {message}\n")


def _on_notification(method: str, params: dict[str, Any]) -> None:
    if method == "progress" and params.get("message"):
        _say(redact(str(params["message"])))


async def _pump_in(stream: RawStream) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    while data := await reader.read(65536):
        await stream.write(data)
    await stream.write_eof()


async def _pump_out(stream: RawStream) -> None:
    out = sys.stdout.buffer
    fd = out.fileno()
    loop = asyncio.get_running_loop()
    while data := await stream.read():
        # Blocking writes in a thread keep stdout's own mode (ssh hands us a pipe or socket).
        await loop.run_in_executor(None, _write_all, fd, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


async def _relay(args: _Args) -> int:
    params = {
        "host": args.host,
        "profile": args.profile or os.environ.get("AWS_PROFILE") or None,
        "region": args.region,
        "endpoint_url": args.endpoint_url,
        "start": not args.no_start,
    }
    async with DaemonClient.connect(autostart=True) as client:
        stream = await client.open_stream(
            "proxy.open", params, timeout=OPEN_TIMEOUT, on_notification=_on_notification
        )
        inbound = asyncio.ensure_future(_pump_in(stream))
        outbound = asyncio.ensure_future(_pump_out(stream))
        await outbound  # the space's side ended (or ssh hung up and the daemon closed us)
        inbound.cancel()
        with contextlib.suppress(BaseException):
            await inbound
        if stream.error:
            raise DaemonError(f"the session ended with an error ({stream.error})")
    return 0


def main(argv: list[str]) -> int:
    try:
        args = _parse(argv)
    except _ArgumentError as exc:
        _say(f"proxy: {exc} (usage: smconnect proxy [--profile P] [--region R] HOST)")
        return 2
    try:
        return asyncio.run(_relay(args))
    except RpcError as exc:
        message = str(exc)
    except DaemonError as exc:
        message = str(exc)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        message = f"I/O error: {exc}"
    message = redact(message)
    _say(message)
    _log_failure(f"{args.host}: {message}")
    return 1
