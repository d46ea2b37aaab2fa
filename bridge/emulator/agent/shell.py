"""Shell sessions (Standard_Stream, InteractiveCommands): a command on a pseudo-terminal.

The agent's shell plugin runs the shell on a pty, sends what it prints as Output (PT1), writes
client Output to its input and applies Size (PT3) messages as window changes; when the shell
exits the session ends. A pty rather than pipes keeps what a client sees realistic: echo,
``\\r\\n`` line endings, Ctrl-C as a signal to the foreground process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import struct
import termios
from collections.abc import Sequence

from bridge.emulator.agent.session import AgentSession
from bridge.ssm.codec import PayloadType

__all__ = ["DEFAULT_SHELL", "ShellApp"]

DEFAULT_SHELL: tuple[str, ...] = ("/bin/sh", "-i")
_READ_CHUNK = 65536


def _take_controlling_tty() -> None:
    """In the child, after setsid: make the pty its controlling terminal (job control, ^C)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


class ShellApp:
    """One shell on one pty; see the module docstring."""

    def __init__(self, session: AgentSession, argv: Sequence[str] | None) -> None:
        self._io = session
        self._argv = list(argv or DEFAULT_SHELL)
        self._loop = asyncio.get_running_loop()
        self._master: int | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._to_shell = bytearray()

    async def run(self) -> str:
        master, slave = os.openpty()
        self._master = master
        env = dict(os.environ, TERM=os.environ.get("TERM", "xterm-256color"))
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                preexec_fn=_take_controlling_tty,
                env=env,
            )
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        while data := await self._read(master):
            await self._io.write(data)
        await self._process.wait()
        return ""

    async def _read(self, fd: int) -> bytes:
        while True:
            try:
                return os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                pass
            except OSError:  # EIO: every slave end is closed, the shell is gone
                return b""
            ready: asyncio.Future[None] = self._loop.create_future()
            self._loop.add_reader(fd, _wake, ready)
            try:
                await ready
            finally:
                self._loop.remove_reader(fd)

    def on_data(self, data: bytes, payload_type: int) -> None:
        master = self._master
        if master is None:
            return
        if payload_type == PayloadType.SIZE:
            self._resize(master, data)
        elif payload_type == PayloadType.OUTPUT:
            pending = bool(self._to_shell)
            self._to_shell += data
            if not pending:
                self._write_to_shell()

    def _write_to_shell(self) -> None:
        master = self._master
        if master is None:
            return
        try:
            written = os.write(master, self._to_shell)
        except BlockingIOError:
            written = 0
        except OSError:
            self._to_shell.clear()
            written = 0
        del self._to_shell[:written]
        if self._to_shell:
            self._loop.add_writer(master, self._writer_ready)

    def _writer_ready(self) -> None:
        if self._master is not None:
            self._loop.remove_writer(self._master)
        self._write_to_shell()

    @staticmethod
    def _resize(master: int, payload: bytes) -> None:
        try:
            size = json.loads(payload)
            cols, rows = int(size["cols"]), int(size["rows"])
        except (ValueError, KeyError, TypeError):
            return
        if 0 < cols < 65536 and 0 < rows < 65536:
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def on_flag(self, flag: int) -> None:
        pass  # port flags mean nothing to a shell

    def congested(self) -> bool:
        return False  # interactive input is small; the pty buffer plus ours absorbs it

    async def flow_control(self) -> None:
        pass

    async def aclose(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGHUP)
            try:
                async with asyncio.timeout(2.0):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        master, self._master = self._master, None
        if master is not None:
            self._loop.remove_reader(master)
            self._loop.remove_writer(master)
            os.close(master)
