"""Today's way to a socket into the space: a socketpair whose far end a thread relays to a
``proxy.open`` raw stream of the daemon.

This is the one place that knows how the socket is produced. ``open_socket`` returns a plain
connected socket; the relay thread (with an event loop of its own, so it works whatever the
caller runs) lives exactly as long as that socket is open. When the daemon can pass the
descriptor itself (SCM_RIGHTS), only this module changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from concurrent.futures import Future
from typing import Any

from bridge.daemon.client import DaemonClient, RawStream
from bridge.daemon.stream import CHUNK


def open_socket(params: dict[str, Any], *, timeout: float) -> socket.socket:
    """A connected, blocking socket whose bytes reach ``proxy.open(params)``'s stream.

    Raises what the daemon client raised (``DaemonError``) if the stream cannot be opened.
    """
    ours, theirs = socket.socketpair()
    opened: Future[None] = Future()
    threading.Thread(
        target=lambda: asyncio.run(_relay(theirs, params, timeout, opened)),
        name="smconnect-channel",
        daemon=True,
    ).start()
    try:
        opened.result()
    except BaseException:
        ours.close()
        raise
    ours.setblocking(True)
    return ours


async def _relay(
    sock: socket.socket, params: dict[str, Any], timeout: float, opened: Future[None]
) -> None:
    try:
        client = await DaemonClient.open()
        try:
            stream = await client.open_stream("proxy.open", params, timeout=timeout)
        except BaseException:
            await client.close()
            raise
    except BaseException as exc:
        sock.close()
        opened.set_exception(exc)
        return
    opened.set_result(None)
    try:
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            await _pump(reader, writer, stream)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    finally:
        await client.close()


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: RawStream
) -> None:
    """Copy both ways until the space's side ends. The user's clean close or half-close is
    passed on as EOF (the space may still answer, then the daemon ends the stream); a reset
    (closed with unread data) ends everything at once."""

    async def upstream() -> bool:  # user -> space; True: a clean EOF
        try:
            while data := await reader.read(CHUNK):
                await stream.write(data)
            await stream.write_eof()
        except ConnectionError:
            return False
        return True

    async def downstream() -> None:  # space -> user
        with contextlib.suppress(ConnectionError):
            while data := await stream.read():
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

    up = asyncio.ensure_future(upstream())
    down = asyncio.ensure_future(downstream())
    try:
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        if up.done() and up.result():
            await down
    finally:
        for task in (up, down):
            task.cancel()
        for task in (up, down):
            with contextlib.suppress(asyncio.CancelledError):
                await task
