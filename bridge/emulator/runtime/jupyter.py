"""The JupyterLab space's Jupyter server: a real jupyter-server on a unix socket.

It runs as the space's user (``user``) from the space's Python when it has one, else as the
emulator's user from the emulator's interpreter, with SageMaker's flags (base URL
``/jupyterlab/default``, empty token, any origin) but listens on a unix socket instead of
``0.0.0.0:8888``, and its kernels talk ZeroMQ over ipc files, so nothing it starts takes a TCP
port. XSRF protection stays on, as in a real space:
a client that POSTs must send the same value in an ``_xsrf`` cookie and an ``X-XSRFToken``
header.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from bridge.emulator.runtime.procs import descendants, die_with_parent, kill_tree
from bridge.emulator.runtime.space_user import SpaceUser

BASE_URL = "/jupyterlab/default"
_STATUS_PATH = f"{BASE_URL}/api/status"
_LOG_TAIL_LINES = 30


class JupyterStartError(RuntimeError):
    """The Jupyter server did not come up; the message carries the tail of its log."""


class JupyterServer:
    def __init__(
        self,
        *,
        socket_path: Path,
        kernel_ipc_prefix: Path,
        runtime_dir: Path,
        log_path: Path,
        home: Path,
        env: Mapping[str, str],
        startup_timeout: float = 60.0,
        python: str = sys.executable,
        user: SpaceUser | None = None,
    ) -> None:
        self._socket_path = socket_path
        self._kernel_ipc_prefix = kernel_ipc_prefix
        self._runtime_dir = runtime_dir
        self._log_path = log_path
        self._home = home
        self._env = dict(env)
        self._startup_timeout = startup_timeout
        self._python = python
        self._user = user
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def socket_path(self) -> Path:
        return self._socket_path

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _argv(self) -> list[str]:
        return [
            self._python,
            "-m",
            "jupyter_server",
            f"--ServerApp.sock={self._socket_path}",
            "--ServerApp.sock_mode=0600",
            f"--ServerApp.base_url={BASE_URL}",
            "--IdentityProvider.token=",
            "--ServerApp.allow_origin=*",
            # SageMaker listens on 0.0.0.0, which lets any Host header in; keep that.
            "--ServerApp.allow_remote_access=True",
            f"--ServerApp.root_dir={self._home}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            "--KernelManager.transport=ipc",
            f"--KernelManager.ip={self._kernel_ipc_prefix}",
        ]

    async def start(self) -> None:
        env = dict(self._env)
        env["JUPYTER_RUNTIME_DIR"] = os.fspath(self._runtime_dir)
        # The python3 kernel (ipykernel) beside the server's interpreter must win over the host's.
        env["PATH"] = os.pathsep.join([os.path.dirname(self._python), env.get("PATH", "")])
        log_fd = os.open(self._log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_fd,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self._home,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent,  # runs after the switch of user: it stays set
                **(self._user.as_child if self._user else {}),
            )
        finally:
            os.close(log_fd)
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self._startup_timeout
        connector = aiohttp.UnixConnector(path=os.fspath(self._socket_path))
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            while True:
                if self._proc.returncode is not None:
                    raise JupyterStartError(
                        f"Jupyter server exited with status {self._proc.returncode} "
                        f"before answering:\n{self._log_tail()}"
                    )
                if self._socket_path.exists():
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with http.get(f"http://localhost{_STATUS_PATH}") as response:
                            if response.status == 200:
                                return
                if time.monotonic() >= deadline:
                    raise JupyterStartError(
                        f"Jupyter server did not answer {_STATUS_PATH} within "
                        f"{self._startup_timeout:.0f} s:\n{self._log_tail()}"
                    )
                await asyncio.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            lines = self._log_path.read_text(errors="replace").splitlines()
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM lets the server shut its kernels down; then kill whatever is left."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        tree = await asyncio.to_thread(
            descendants, {proc.pid}
        )  # kernels run in their own sessions: find them now
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), grace)
        kill_tree(tree | ({proc.pid} if proc.returncode is None else set()))
        await proc.wait()
        with contextlib.suppress(FileNotFoundError):
            self._socket_path.unlink()
