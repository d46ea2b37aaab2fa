"""The daemon process: one per user (flock), listen, exit when idle or asked to.

A losing daemon exits 0 without touching anything: the winner owns the socket. Only a lock
holder may remove a socket file, so "stale" needs no liveness guess: holding the lock proves
nobody else is serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bridge import paths as daemon_paths
from bridge.daemon.dispatch import Api
from bridge.daemon.logsetup import setup_logging
from bridge.daemon.server import DaemonServer
from bridge.daemon.settings import DaemonSettings
from bridge.paths import DaemonPaths, ensure_private_dir, write_private_file

log = logging.getLogger("smconnect.daemon")

Setup = Callable[[DaemonServer, DaemonSettings], Awaitable[None]]
"""Installs the daemon logic: registers methods on ``server.api``, sets ``server.busy``."""


def acquire_lock(path: Path) -> int | None:
    """The held lock's fd (keep it open for the process's life), or None if another daemon has it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def remove_stale(path: Path) -> None:
    """Remove a leftover socket/endpoint file; call only while holding the lock."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        log.info("removed a stale %s", path.name)


async def serve(
    paths: DaemonPaths,
    *,
    transport: str,
    idle_timeout: float,
    setup: Setup | None = None,
    settings: DaemonSettings | None = None,
) -> None:
    """Serve until ``daemon.shutdown``, SIGTERM/SIGINT, or ``idle_timeout`` seconds of idleness."""
    token = secrets.token_urlsafe(32) if transport == "tcp" else None
    server = DaemonServer(Api(), token=token)
    if setup is not None:
        await setup(server, settings or DaemonSettings.from_env())
    if transport == "unix":
        remove_stale(paths.socket)
        remove_stale(paths.fd_socket)
        await server.start_unix(paths.socket)
        if server.fd_listener is not None:
            try:
                await server.fd_listener(paths.fd_socket)
            except OSError as exc:  # proxies then relay by themselves: slower, still working
                log.warning("no descriptor passing (%s): %s", paths.fd_socket.name, exc)
    else:
        remove_stale(paths.tcp_endpoint)
        port = await server.start_tcp()
        write_private_file(paths.tcp_endpoint, json.dumps({"port": port, "token": token}))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.shutdown_requested.set)
    log.info(
        "daemon pid %d serving on %s (%s), idle timeout %gs",
        os.getpid(),
        server.endpoint,
        transport,
        idle_timeout,
    )
    try:
        reason = await _wait_until_done(server, idle_timeout)
        log.info("daemon exiting: %s", reason)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        # Unlink first so new clients spawn a successor instead of hitting a closing server.
        for path in (
            (paths.socket, paths.fd_socket) if transport == "unix" else (paths.tcp_endpoint,)
        ):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        await server.close()


async def _wait_until_done(server: DaemonServer, idle_timeout: float) -> str:
    interval = min(1.0, idle_timeout / 4)
    while True:
        try:
            await asyncio.wait_for(server.shutdown_requested.wait(), interval)
        except TimeoutError:
            if server.idle_for() >= idle_timeout:
                return f"idle for {idle_timeout:g}s"
        else:
            return "shutdown requested"


def main(setup: Setup | None = None) -> int:
    os.umask(0o077)
    paths = daemon_paths.default_paths()
    try:
        ensure_private_dir(paths.runtime_dir)
        paths.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except (OSError, daemon_paths.RuntimeDirError) as exc:
        print(f"smconnect daemon: {exc}", file=sys.stderr)
        return 1
    settings = DaemonSettings.from_env()  # the one read of the daemon's SMCONNECT_* knobs
    setup_logging(paths.log, settings.log_level)
    lock_fd = acquire_lock(paths.lock)
    if lock_fd is None:
        log.debug("another daemon holds %s; exiting", paths.lock)
        return 0
    try:
        asyncio.run(
            serve(
                paths,
                transport=settings.transport,
                idle_timeout=settings.idle_timeout,
                setup=setup,
                settings=settings,
            )
        )
    except Exception:
        log.exception("daemon failed")
        return 1
    finally:
        os.close(lock_fd)
    return 0
