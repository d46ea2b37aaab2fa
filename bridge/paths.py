"""Where the daemon's socket, lock, token and log live, and how the client reaches it.

Stdlib only and below every other layer: the daemon, its client, the AWS layer (the
``credential_process`` cache) and the ssh ProxyCommand relay (on every connection) all use it.
The runtime directory is private (0700, owned by us, not a symlink) because the socket's file
mode is not a security boundary on every platform; the directory's is.

``pathlib`` (with ``re``, ``fnmatch`` and ``urllib.parse``: ~20 ms of CPU) is imported only by
the functions that build a ``Path``: the ProxyCommand's descriptor path reads the directories as
strings (``runtime_dir_name``, ``state_dir_name``) and checks them with ``verify_private_dir``.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

ENV_RUNTIME_DIR = "SMCONNECT_RUNTIME_DIR"
ENV_STATE_DIR = "SMCONNECT_STATE_DIR"
ENV_TRANSPORT = "SMCONNECT_DAEMON_TRANSPORT"  # "unix" (default where available) or "tcp"
ENV_IDLE_TIMEOUT = "SMCONNECT_DAEMON_IDLE_TIMEOUT"
ENV_LOG_LEVEL = "SMCONNECT_LOG_LEVEL"

DEFAULT_IDLE_TIMEOUT = 600.0

# The files in the runtime directory (DaemonPaths' properties; the proxy joins them to a string).
SOCKET_NAME = "daemon.sock"
FD_SOCKET_NAME = "fd.sock"
TCP_ENDPOINT_NAME = "daemon.tcp"


class RuntimeDirError(RuntimeError):
    """The runtime directory exists but is not safe to use (wrong owner, a symlink, …)."""


class DaemonPaths:
    """The runtime and state directories, and the files in them. A plain immutable value, not a
    dataclass: the ssh ProxyCommand imports this module on every connection, and
    ``dataclasses`` (with ``inspect``) would be ~15 ms of its start."""

    __slots__ = ("runtime_dir", "state_dir")
    runtime_dir: Path
    state_dir: Path

    def __init__(self, runtime_dir: Path, state_dir: Path) -> None:
        object.__setattr__(self, "runtime_dir", runtime_dir)
        object.__setattr__(self, "state_dir", state_dir)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"DaemonPaths is immutable: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DaemonPaths):
            return NotImplemented
        return (self.runtime_dir, self.state_dir) == (other.runtime_dir, other.state_dir)

    def __hash__(self) -> int:
        return hash((self.runtime_dir, self.state_dir))

    def __repr__(self) -> str:
        return f"DaemonPaths(runtime_dir={self.runtime_dir!r}, state_dir={self.state_dir!r})"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / SOCKET_NAME

    @property
    def fd_socket(self) -> Path:
        """Where the proxy fetches a descriptor bound to a channel (``bridge.daemon.fdpass``)."""
        return self.runtime_dir / FD_SOCKET_NAME

    @property
    def lock(self) -> Path:
        return self.runtime_dir / "daemon.lock"

    @property
    def tcp_endpoint(self) -> Path:
        """JSON ``{"port": …, "token": …}`` written 0600 by a daemon serving loopback TCP."""
        return self.runtime_dir / TCP_ENDPOINT_NAME

    @property
    def log(self) -> Path:
        return self.state_dir / "daemon.log"

    @property
    def stderr_log(self) -> Path:
        """Where a freshly spawned daemon's stderr goes until its own logging is set up."""
        return self.state_dir / "daemon.stderr"


def transport_kind() -> str:
    """``"unix"`` unless forced to ``"tcp"`` or the platform has no AF_UNIX."""
    forced = os.environ.get(ENV_TRANSPORT, "").strip().lower()
    if forced in ("unix", "tcp"):
        return forced
    import _socket  # the C module: ``socket`` builds enums at import (~15 ms)

    return "unix" if hasattr(_socket, "AF_UNIX") else "tcp"


def idle_timeout() -> float:
    raw = os.environ.get(ENV_IDLE_TIMEOUT, "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_IDLE_TIMEOUT
    return value if value > 0 else DEFAULT_IDLE_TIMEOUT


def default_paths() -> DaemonPaths:
    from pathlib import Path

    return DaemonPaths(runtime_dir=Path(runtime_dir_name()), state_dir=Path(state_dir_name()))


def runtime_dir_name() -> str:
    """``default_paths().runtime_dir``, as a string (no ``pathlib``)."""
    override = os.environ.get(ENV_RUNTIME_DIR)
    if override:
        return override
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "smconnect")
    import tempfile  # 3 ms the relay need not pay when XDG_RUNTIME_DIR is set

    return os.path.join(tempfile.gettempdir(), f"smconnect-{os.getuid()}")


def state_dir_name() -> str:
    """``default_paths().state_dir``, as a string (no ``pathlib``)."""
    override = os.environ.get(ENV_STATE_DIR)
    if override:
        return override
    xdg = os.environ.get("XDG_STATE_HOME")
    base = (
        xdg
        if xdg and os.path.isabs(xdg)
        else os.path.join(os.path.expanduser("~"), ".local", "state")
    )
    return os.path.join(base, "smconnect")


def cache_dir_name() -> str:
    """Where the daemon keeps what it can rebuild (the trimmed service models): the XDG cache
    directory's ``smconnect``, or ``~/.cache/smconnect``. Not the state directory: a cache may
    be shared by every state directory of a user (a test suite's hundreds of sandboxes share
    one through ``XDG_CACHE_HOME``) and deleted at any time."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "smconnect")


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` 0700 or check an existing one is ours, a real directory and private.

    The fallback lives in a world-writable /tmp, where someone else may have created the name
    first (to watch or hijack our socket), so an existing directory is verified, never trusted.
    """
    try:
        path.mkdir(mode=0o700, parents=False)
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    except FileExistsError:
        pass
    if _check_dir(path) != 0o700:
        os.chmod(path, 0o700)
    return path


def verify_private_dir(path: str | os.PathLike[str]) -> None:
    """The client's check before dialing: never talk to a socket someone else could have placed.

    Raises FileNotFoundError when the directory does not exist yet (no daemon ever ran).
    """
    if _check_dir(path) & 0o077:
        raise RuntimeDirError(f"{path} is accessible to other users; refusing to use it")


def _check_dir(path: str | os.PathLike[str]) -> int:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise RuntimeDirError(f"{path} is a symlink; refusing to use it")
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeDirError(f"{path} is not a directory")
    if st.st_uid != os.getuid():
        raise RuntimeDirError(f"{path} is owned by uid {st.st_uid}, not by us")
    return stat.S_IMODE(st.st_mode)


def write_private_file(path: Path, data: str) -> None:
    """Atomically replace ``path`` with a 0600 file, never following a planted symlink."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def lock_held(lock: Path) -> bool:
    """Whether a live daemon holds ``lock`` (its flock lasts exactly as long as its process)."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our probe lock, if we got it
    return False
