"""Run what an SSH session channel asks for: a command or a login shell, with or without a pty.

Output is pumped into the channel with ``await drain()`` until the child's stdout/stderr reach
EOF, and only then is the exit status sent: exiting as soon as the child ends would drop output
still queued for a slow link (an SSM channel runs near 1 MB/s).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
import struct
import termios
from collections.abc import Coroutine, Mapping, MutableSet
from pathlib import Path
from typing import Any

import asyncssh

from bridge.emulator.runtime.space_user import SpaceUser

log = logging.getLogger(__name__)

_CHUNK = 65536
#: After the child exits, how long a pty may stay silent before we stop reading it. A
#: background job holding the pty open must not keep the channel alive forever.
_PTY_LINGER = 0.25
#: Environment variables a client may set (OpenSSH's default AcceptEnv).
_ACCEPTED_ENV_PREFIXES = ("LANG", "LC_")

Process = asyncssh.SSHServerProcess[bytes]


class SessionRunner:
    """Starts the child for each session channel and keeps the set of live children."""

    def __init__(
        self,
        *,
        home: Path,
        env: Mapping[str, str],
        children: MutableSet[int],
        user: SpaceUser | None = None,
    ) -> None:
        self._home = home
        self._env = dict(env)
        self._children = children
        # Children run as the space's user, with its groups only (none beyond its own).
        self._user = user
        self._as_user: dict[str, Any] = user.as_child if user else {}

    async def __call__(self, process: Process) -> None:
        try:
            if process.get_terminal_type() is not None:
                await self._run_pty(process)
            else:
                await self._run_pipes(process)
        except Exception:
            log.exception("session failed")
            with contextlib.suppress(Exception):
                process.exit(255)

    def _child_env(self, process: Process) -> dict[str, str]:
        env = dict(self._env)
        for raw_key, raw_value in process.env.items():
            key, value = _text(raw_key), _text(raw_value)
            if key.startswith(_ACCEPTED_ENV_PREFIXES):
                env[key] = value
        term = process.get_terminal_type()
        if term:
            env["TERM"] = term
        agent_path = process.channel.get_agent_path()
        if agent_path:
            env["SSH_AUTH_SOCK"] = agent_path
        return env

    @staticmethod
    def _argv(process: Process) -> list[str]:
        command = process.command
        if command is None:
            return ["/bin/bash", "-l"]
        return ["/bin/bash", "-c", command]

    async def _run_pipes(self, process: Process) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self._argv(process),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self._home,
            env=self._child_env(process),
            start_new_session=True,
            **self._as_user,
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self._children.add(proc.pid)
        feeder = asyncio.create_task(_feed_pipe(process, proc.stdin, proc.pid))
        watcher = asyncio.create_task(_hang_up_on_close(process, proc.pid))
        pumps = asyncio.gather(
            _pump_stream(proc.stdout, process.stdout),
            _pump_stream(proc.stderr, process.stderr),
        )
        try:
            status = await proc.wait()
            await pumps
        finally:
            self._children.discard(proc.pid)
            pumps.cancel()
            feeder.cancel()
            watcher.cancel()
        _exit(process, status)

    async def _run_pty(self, process: Process) -> None:
        master, slave = os.openpty()
        try:
            if self._user is not None:  # as sshd does: the user's terminal is the user's
                os.fchown(slave, self._user.uid, -1)
            _set_size(slave, process.get_terminal_size())
            proc = await asyncio.create_subprocess_exec(
                *self._argv(process),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self._home,
                env=self._child_env(process),
                start_new_session=True,
                preexec_fn=_take_controlling_tty,
                **self._as_user,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._children.add(proc.pid)
        exited = asyncio.Event()
        feeder = asyncio.create_task(_feed_pty(process, master, proc.pid))
        watcher = asyncio.create_task(_hang_up_on_close(process, proc.pid))
        pump = asyncio.create_task(_pump_pty(master, process.stdout, exited))
        try:
            status = await proc.wait()
            exited.set()
            await pump
        finally:
            self._children.discard(proc.pid)
            feeder.cancel()
            watcher.cancel()
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            os.close(master)
        _exit(process, status)


def _text(value: str | bytes) -> str:
    """Client env arrives as bytes on a channel opened without an encoding."""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _exit(process: Process, status: int) -> None:
    if status >= 0:
        process.exit(status)
    else:
        name = signal.Signals(-status).name.removeprefix("SIG")
        process.exit_with_signal(name)


def _take_controlling_tty() -> None:
    """Runs in the child after setsid: make the pty on fd 0 its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _set_size(fd: int, size: tuple[int, int, int, int]) -> None:
    width, height, pixwidth, pixheight = size
    if width and height:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, pixwidth, pixheight))


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _control(exc: Exception, pid: int, pty_fd: int | None) -> None:
    """Apply a window change, break or signal the client sent in the input stream."""
    if isinstance(exc, asyncssh.TerminalSizeChanged):
        if pty_fd is not None:
            _set_size(pty_fd, (exc.width, exc.height, exc.pixwidth, exc.pixheight))
    elif isinstance(exc, asyncssh.BreakReceived):
        _signal_group(pid, signal.SIGINT)
    elif isinstance(exc, asyncssh.SignalReceived):
        sig = getattr(signal, f"SIG{exc.signal}", None)
        if isinstance(sig, signal.Signals):
            _signal_group(pid, sig)


async def _read_input(process: Process, pid: int, pty_fd: int | None) -> bytes:
    while True:
        try:
            return await process.stdin.read(_CHUNK)
        except (
            asyncssh.TerminalSizeChanged,
            asyncssh.BreakReceived,
            asyncssh.SignalReceived,
        ) as exc:
            _control(exc, pid, pty_fd)


async def _feed_pipe(process: Process, stdin: asyncio.StreamWriter, pid: int) -> None:
    try:
        while data := await _read_input(process, pid, None):
            stdin.write(data)
            await stdin.drain()
        stdin.close()
    except (ConnectionError, asyncssh.Error):
        stdin.close()


async def _feed_pty(process: Process, master: int, pid: int) -> None:
    """Copy client input into the pty. A pty has no half-close, so client EOF just stops this."""
    with contextlib.suppress(ConnectionError, asyncssh.Error):
        while data := await _read_input(process, pid, master):
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(master, view) :]
                except BlockingIOError:
                    await _fd_ready(master, write=True)


async def _pump_stream(source: asyncio.StreamReader, sink: asyncssh.SSHWriter[bytes]) -> None:
    while chunk := await source.read(_CHUNK):
        try:
            sink.write(chunk)
            await sink.drain()
        except (ConnectionError, asyncssh.Error):
            # The channel is gone; keep reading so the child never blocks on a full pipe.
            while await source.read(_CHUNK):
                pass
            return


async def _pump_pty(master: int, sink: asyncssh.SSHWriter[bytes], exited: asyncio.Event) -> None:
    """Copy pty output to the channel until the pty closes, or goes quiet after the child exits."""
    channel_ok = True
    while True:
        try:
            chunk = os.read(master, _CHUNK)
        except BlockingIOError:
            if exited.is_set():
                if not await _fd_ready(master, timeout=_PTY_LINGER):
                    return
            else:
                await _first(_fd_ready(master), exited.wait())
            continue
        except OSError as exc:
            if exc.errno == errno.EIO:  # every slave fd closed and the buffer is empty
                return
            raise
        if not chunk:
            return
        if channel_ok:
            try:
                sink.write(chunk)
                await sink.drain()
            except (ConnectionError, asyncssh.Error):
                channel_ok = False


async def _hang_up_on_close(process: Process, pid: int) -> None:
    """When the client drops the channel, hang up the child's group as a closing tty would."""
    await process.channel.wait_closed()
    _signal_group(pid, signal.SIGHUP)


async def _fd_ready(fd: int, *, write: bool = False, timeout: float | None = None) -> bool:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await asyncio.wait_for(ready, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


async def _first(*aws: Coroutine[Any, Any, object]) -> None:
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
