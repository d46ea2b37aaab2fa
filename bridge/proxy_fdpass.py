"""The ProxyCommand's descriptor hand-off (ssh's ``ProxyUseFdpass yes``).

With a ticket from ``proxy.open``, the proxy fetches a descriptor bound to the channel from the
daemon's ``fd.sock``, passes it to ssh in SCM_RIGHTS and exits: ssh then talks to the daemon
directly, and a forked child (the watcher) stays on the hand-off connection only to print what
the daemon says there (an idle-shutdown warning, an abnormal end). The wire is
``bridge/daemon/fdpass.py``'s (docs/design/proxy.md, "Two paths").

This is on every connection's critical path (ssh waits for the proxy to exit), so it uses
``_socket`` rather than ``socket`` (whose enums and ``selectors`` cost ~15 ms of CPU) and no
``array``; ``tests/proxy/test_proxy_imports.py`` checks what it loads through real OpenSSH.
"""

from __future__ import annotations

import _socket
import os
import stat
import sys

from bridge.proxy_messages import DAEMON_GONE, ProxyError, Quietly, notice, report, session_ended

TYPE_CHECKING = False  # typing itself is ~4 ms of the start; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import NoReturn

REDEEM_TIMEOUT = 5.0  # fd.sock is local and answers at once: longer means a stuck daemon
_FD_OK = b"\0"  # bridge.daemon.fdpass.OK: the byte that carries the descriptor
_END_CLEAN = b"."  # bridge.daemon.fdpass.END_CLEAN: the session ended normally
_END_ERROR = b"!"  # bridge.daemon.fdpass.END_ERROR: followed by the cause, one line
_NOTICE = b"~"  # bridge.daemon.fdpass.NOTICE: a JSON-RPC notification during the session
_WATCH_HELLO = b"notices 1\n"  # bridge.daemon.fdpass.WATCH_HELLO: this watcher reads notices
_MAX_LINE = 4096  # bridge.daemon.fdpass.MAX_NOTICE: a longer line on the hand-off is cut
WATCHER_NAME = b"smconnect-watch"  # /proc/<pid>/comm of the process left behind on fd passing
_INT = 4  # sizeof(int) of SCM_RIGHTS descriptors wherever AF_UNIX passes them (LP64, ILP32)


def stdout_takes_a_descriptor() -> bool:
    """ssh's ``ProxyUseFdpass yes`` gives us a socket; with ``no`` (or another client) a pipe."""
    try:
        return stat.S_ISSOCK(os.fstat(1).st_mode)
    except OSError:
        return False


def hand_off(fd_sock: str, ticket: str, state_dir: str, host: str) -> NoReturn:
    """Redeem ``ticket`` at ``fd_sock``, pass the descriptor to ssh, leave the watcher behind
    and exit at once; ProxyError (or OSError) if the descriptor never reached ssh."""
    fd, watch = redeem_ticket(fd_sock, ticket)
    try:
        _pass_to_ssh(fd)
    except OSError:
        watch.close()
        raise
    _stay_behind(watch, state_dir, host)
    _exit_at_once()


def _recv_fds(sock: _socket.socket, maxfds: int) -> tuple[bytes, list[int]]:
    """``socket.recv_fds(sock, 1, maxfds)`` on a bare ``_socket.socket`` (and without ``array``,
    which imports ``collections.abc``)."""
    data, ancdata, _flags, _addr = sock.recvmsg(1, _socket.CMSG_LEN(maxfds * _INT))
    fds: list[int] = []
    for level, kind, payload in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            whole = len(payload) - len(payload) % _INT
            fds += (
                int.from_bytes(payload[at : at + _INT], sys.byteorder, signed=True)
                for at in range(0, whole, _INT)
            )
    return data, fds


def redeem_ticket(path: str, ticket: str) -> tuple[int, _socket.socket]:
    """The descriptor ``fd.sock`` hands out for ``ticket`` and the connection it came on (the
    daemon tells how the session ended there), or ProxyError with the refusal's reason."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(REDEEM_TIMEOUT)
        sock.connect(path)
        sock.sendall(ticket.encode("ascii") + b"\n")
        data, fds = _recv_fds(sock, 1)
    except OSError as exc:
        sock.close()
        raise ProxyError(f"cannot fetch the connection from the smconnect daemon: {exc}") from None
    if data[:1] == _FD_OK and len(fds) == 1:
        sock.settimeout(None)
        with Quietly(OSError):  # a daemon gone already shows at the end notice
            sock.sendall(_WATCH_HELLO)
        return fds[0], sock
    for fd in fds:
        os.close(fd)
    with Quietly(OSError):
        data += sock.recv(1024)
    sock.close()
    reason = data[1:].decode("utf-8", "replace").strip() if data else "no answer"
    raise ProxyError(f"the smconnect daemon refused the connection: {reason}")


def _pass_to_ssh(fd: int) -> None:
    """One byte with one descriptor on stdout, as OpenSSH's ``mm_receive_fd`` expects."""
    passed = fd.to_bytes(_INT, sys.byteorder, signed=True)
    out = _socket.socket(fileno=os.dup(1))
    try:
        out.sendmsg([b"\0"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, passed)])
    finally:
        out.close()
        os.close(fd)


def _lines(watch: _socket.socket) -> Iterator[bytes]:
    """The hand-off connection's lines (each cut at ``_MAX_LINE``), the last one unfinished
    if the daemon closed mid-line; they end with the connection (or its error)."""
    data = b""
    try:
        while chunk := watch.recv(4096):
            data += chunk
            while b"\n" in data:
                line, data = data.split(b"\n", 1)
                yield line[:_MAX_LINE]
            if len(data) > _MAX_LINE:  # no newline in sight: not ours to buffer
                yield data[:_MAX_LINE]
                data = b""
    except OSError:
        pass
    if data:
        yield data


def how_it_ended(
    watch: _socket.socket, on_notice: Callable[[bytes], None] = lambda _: None
) -> str | None:
    """Wait on the hand-off connection for the daemon's end notice: None for a normal end,
    else the line that names the cause (the daemon closing without a notice means it died).
    Notices on the way (``~`` and a JSON-RPC notification) go to ``on_notice``; a line of a
    kind this version does not know (a newer daemon's) is skipped."""
    for line in _lines(watch):
        if line.startswith(_NOTICE):
            on_notice(line[1:])
        elif line.startswith(_END_CLEAN):
            return None
        elif line.startswith(_END_ERROR):
            return session_ended(line[1:].decode("utf-8", "replace").strip())
    return DAEMON_GONE


def _stay_behind(watch: _socket.socket, state_dir: str, host: str) -> None:
    """Fork the process that prints the daemon's notices (``space.idle``) and names an abnormal
    end once ours has exited (ssh waits for the ProxyCommand itself, not for its children). The
    child keeps only ssh's stderr and the hand-off connection, leaves ssh's process group and
    session, and exits as soon as the daemon reports the end or goes away, so it never outlives
    the session; its parent (init after we exit) reaps it. Without a fork (none available) the
    session runs unwatched."""
    try:
        pid = os.fork()
    except OSError:
        watch.close()
        return
    if pid:
        watch.close()
        return
    try:
        os.setsid()  # no terminal signals; ssh's Ctrl-C handling stays ssh's
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)  # ssh's socketpair end: ours is no longer needed
        os.close(null)
        with Quietly(OSError), open("/proc/self/comm", "wb") as comm:
            comm.write(WATCHER_NAME)
        message = how_it_ended(watch, notice)
        if message is not None:
            report(state_dir, host, message)
        watch.close()  # the daemon waits for this before closing ssh's side
    except BaseException:  # noqa: S110 - nobody is left to tell; never a traceback
        pass
    finally:
        os._exit(0)


def _exit_at_once() -> NoReturn:
    """Exit without the interpreter's shutdown (module teardown, garbage collection: tens of
    ms). On the descriptor path ssh waits for this process to exit before it starts SSH's
    handshake (OpenSSH reaps the ProxyCommand once it has the descriptor), so every connection
    would pay that shutdown. Nothing is left to do but flush stderr."""
    with Quietly(OSError, ValueError):
        sys.stderr.flush()
    os._exit(0)
