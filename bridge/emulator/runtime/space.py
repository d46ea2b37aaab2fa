"""A running SageMaker app, as seen from inside: an SSH server and (JupyterLab) a Jupyter server.

Everything listens on unix sockets in a private run directory (0700; 0711 when the space runs as
another user, whose Jupyter server owns the ``jupyter/`` folder in it), so the only way in is
through the agent side, which asks ``resolve`` where a port inside the space lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncssh

from bridge.emulator.runtime.activity import heartbeat_time, jupyter_activity
from bridge.emulator.runtime.address import Address, is_loopback
from bridge.emulator.runtime.jupyter import BASE_URL, JupyterServer
from bridge.emulator.runtime.procs import descendants, kill_tree, tagged
from bridge.emulator.runtime.space_user import SpaceUser, space_user_from_env
from bridge.emulator.runtime.ssh_server import SSHServer

LOGIN_USER = "sagemaker-user"
SSH_PORT = 22
JUPYTER_PORT = 8888
APP_TYPES = ("JupyterLab", "CodeEditor")
#: Set in the environment of everything a runtime starts, so stop() finds even detached jobs.
PROCESS_TAG = "SMCONNECT_EMULATOR_RUN"
#: Replaces the PATH sessions see, read at each start (a space without ``jupyter``, say).
SPACE_PATH_ENV = "SMCONNECT_EMULATOR_SPACE_PATH"
#: AF_UNIX paths are limited to about 104 bytes (macOS) / 108 (Linux), counting the NUL.
_MAX_SOCKET_PATH = 100


class SpaceRuntime:
    """The space-side processes of one running app; ``start()`` again after ``stop()`` is fine."""

    def __init__(
        self, *, space_name: str, app_type: str, root: Path, jupyter: bool | None = None
    ) -> None:
        if app_type not in APP_TYPES:
            raise ValueError(f"app_type must be one of {APP_TYPES}, not {app_type!r}")
        self.space_name = space_name
        self.app_type = app_type
        self.root = Path(root)
        self.home = self.root / "home" / LOGIN_USER
        self.tmp_dir = self.root / "tmp"  # the space's TMPDIR (its /tmp on AWS)
        self.jupyter_enabled = app_type == "JupyterLab" if jupyter is None else jupyter
        self.startup_seconds: float | None = None
        self._run_dir: Path | None = None
        self._host_key: asyncssh.SSHKey | None = None
        self._ssh: SSHServer | None = None
        self._jupyter: JupyterServer | None = None
        self._children: set[int] = set()
        self._run_id = ""
        self.user: SpaceUser | None = None  # who sessions run as (None: the emulator's user)
        self.python = sys.executable  # the space's python3 / jupyter (see space_python.py)

    @property
    def running(self) -> bool:
        return self._ssh is not None

    @property
    def host_key_fingerprint(self) -> str:
        return self._key().get_fingerprint("sha256")

    @property
    def host_public_key(self) -> str:
        return self._key().export_public_key("openssh").decode("ascii").strip()

    @property
    def ssh_socket(self) -> Path:
        return self._dir() / "ssh.sock"

    @property
    def jupyter_socket(self) -> Path:
        return self._dir() / "jupyter" / "jupyter.sock"

    def _key(self) -> asyncssh.SSHKey:
        if self._host_key is None:
            raise RuntimeError(f"space {self.space_name!r} has not been started")
        return self._host_key

    def _dir(self) -> Path:
        if self._run_dir is None:
            raise RuntimeError(f"space {self.space_name!r} is not running")
        return self._run_dir

    def _make_run_dir(self, jupyter_user: SpaceUser | None) -> Path:
        """The private socket directory: under root if the paths fit, else a short temp dir.
        Its ``jupyter/`` folder (socket, kernel ipc files, runtime dir) is the Jupyter server's:
        ``jupyter_user``'s when it runs as another user, who may then pass through the run
        directory (0711) but not list it or reach the SSH socket (0600)."""
        preferred = self.root / "run"
        if len(os.fsencode(preferred / "jupyter" / "jupyter.sock")) <= _MAX_SOCKET_PATH:
            shutil.rmtree(preferred, ignore_errors=True)
            preferred.mkdir(mode=0o700, parents=True)
            run_dir = preferred
        else:
            run_dir = Path(tempfile.mkdtemp(prefix="smconnect-space-"))
        os.chmod(run_dir, 0o700 if jupyter_user is None else 0o711)  # mkdir's mode is masked
        (run_dir / "jupyter").mkdir(mode=0o700)
        (run_dir / "jupyter" / "jupyter-runtime").mkdir(mode=0o700)
        if jupyter_user is not None:
            jupyter_user.hand_over(run_dir / "jupyter")
        return run_dir

    def _write_profile(self) -> None:
        """A prompt that names the login user and the space, as a SageMaker image's does
        (the emulator's processes run as its own OS user, which bash's ``\\u`` would show)."""
        profile = self.home / ".bash_profile"
        if not profile.exists():
            profile.write_text(
                f"[ -f ~/.bashrc ] && . ~/.bashrc\nPS1='{LOGIN_USER}@{self.space_name}:\\w\\$ '\n"
            )

    def _passable(self) -> tuple[Path, ...]:
        """The emulator's folders above the home (0700 from mkdtemp) that ``_hand_over`` opens
        for search; the folders above them must already let another user through."""
        return (self.root.parent, self.root, self.home.parent)

    def _hand_over(self, user: SpaceUser) -> None:
        """The home and TMPDIR become the user's; the folders above them let it pass through,
        without listing them."""
        user.hand_over(self.home, self.tmp_dir)
        for folder in self._passable():
            mode = os.stat(folder).st_mode & 0o7777 | 0o111  # search only: nothing is listed
            os.chmod(folder, mode)

    def _environment(self) -> dict[str, str]:
        """What a login in the space sees; HOME is always set (aws-toolkit-vscode #8096)."""
        path = os.environ.get(SPACE_PATH_ENV) or os.pathsep.join(
            [os.path.dirname(self.python), os.environ.get("PATH", os.defpath)]
        )
        return {
            "HOME": os.fspath(self.home),
            "USER": LOGIN_USER,
            "LOGNAME": LOGIN_USER,
            "SHELL": "/bin/bash",
            "PATH": path,
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TMPDIR": os.fspath(self.tmp_dir),
            "SAGEMAKER_SPACE_NAME": self.space_name,
            "SAGEMAKER_APP_TYPE": self.app_type,
            "SAGEMAKER_APP_TYPE_LOWERCASE": self.app_type.lower(),
            PROCESS_TAG: self._run_id,
        }

    async def start(self) -> None:
        """Start SSH (with a new host key) and, for JupyterLab, Jupyter, side by side."""
        if self.running:
            raise RuntimeError(f"space {self.space_name!r} is already running")
        began = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.tmp_dir, ignore_errors=True)  # a new container's /tmp is empty
        self.tmp_dir.mkdir(mode=0o700)
        self._write_profile()
        self.user = user = await asyncio.to_thread(
            functools.partial(
                space_user_from_env, LOGIN_USER, home=self.home, passable=self._passable()
            )
        )
        if user is not None:
            await asyncio.to_thread(self._hand_over, user)
        # Jupyter runs as the space's user when that user has a Python it can run.
        python = user.python if user is not None else None
        jupyter_user = user if python else None
        self.python = python or sys.executable
        run_dir = self._run_dir = self._make_run_dir(jupyter_user)
        self._run_id = uuid.uuid4().hex
        env = self._environment()
        self._host_key = asyncssh.generate_private_key("ssh-ed25519")
        self._ssh = SSHServer(
            socket_path=run_dir / "ssh.sock",
            home=self.home,
            env=env,
            resolve=self.resolve,
            children=self._children,
            user=self.user,
        )
        starts = [self._ssh.start(self._host_key)]
        if self.jupyter_enabled:
            self._jupyter = JupyterServer(
                socket_path=self.jupyter_socket,
                kernel_ipc_prefix=run_dir / "jupyter" / "k",
                runtime_dir=run_dir / "jupyter" / "jupyter-runtime",
                log_path=self.root / "jupyter.log",
                home=self.home,
                env=env,
                python=self.python,
                user=jupyter_user,
            )
            starts.append(self._jupyter.start())
        results = await asyncio.gather(*starts, return_exceptions=True)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            await self.stop()
            raise failure
        self.startup_seconds = time.monotonic() - began

    async def stop(self) -> None:
        """Close SSH, stop Jupyter and its kernels, kill every session's process tree."""
        ssh, self._ssh = self._ssh, None
        jupyter, self._jupyter = self._jupyter, None
        leftovers = await asyncio.to_thread(descendants, set(self._children)) | self._children
        if ssh is not None:
            await ssh.stop()
        if jupyter is not None:
            await jupyter.stop()
        if self._run_id:
            leftovers |= await asyncio.to_thread(tagged, PROCESS_TAG, self._run_id)
        kill_tree(leftovers)
        self._run_id = ""
        self._children.clear()
        run_dir, self._run_dir = self._run_dir, None
        if run_dir is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(run_dir)

    async def last_activity(self) -> float | None:
        """Epoch seconds of the last user activity the space reports (heartbeat file, Jupyter
        kernels and terminals), None when it reports none."""
        times = [heartbeat_time(self.tmp_dir)]
        jupyter = self._jupyter
        if jupyter is not None:
            times.append(await jupyter_activity(jupyter.socket_path, BASE_URL))
        known = [t for t in times if t is not None]
        return max(known) if known else None

    def resolve(self, host: str, port: int) -> Address:
        """Where ``host:port`` as seen from inside the space really listens."""
        if not is_loopback(host):
            return (host, port)
        if self._run_dir is not None:
            if port == SSH_PORT:
                return os.fspath(self.ssh_socket)
            if port == JUPYTER_PORT and self._jupyter is not None:
                return os.fspath(self._jupyter.socket_path)
            if port not in (SSH_PORT, JUPYTER_PORT):
                # A server a session started (``jupyter server --port 8889``) listens on the
                # host's real loopback, where a space's own process would find it.
                return ("127.0.0.1", port)
        raise ConnectionRefusedError(f"nothing listens on port {port} in space {self.space_name!r}")
