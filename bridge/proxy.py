"""``smconnect proxy <host>``: the ssh ProxyCommand relay.

ssh starts this for every connection, so its start-up is budgeted (< 60 ms of its own): it
imports only light stdlib modules and speaks to the daemon through ``bridge.fastws``. Only when
no daemon answers does it take the slow path and import the asyncio client to start one.

It asks the daemon for a stream into the space's SSH server (``proxy.open``) and copies bytes
between it and stdin/stdout. With ``--fdpass`` and a socket for stdout (ssh's
``ProxyUseFdpass yes``), it instead fetches a descriptor bound to the channel from ``fd.sock``,
passes it to ssh in SCM_RIGHTS and exits: ssh then talks to the daemon directly, and a forked
child (the watcher) stays on the hand-off connection only to print what the daemon says there
(an idle-shutdown warning, an abnormal end). On a pipe (``-o ProxyUseFdpass=no``, other ssh
clients) it relays as before. Progress goes to stderr (ssh shows it); a failure is one readable
line on stderr, also appended to the proxy log.

The descriptor path is on every connection's critical path (ssh waits for this process to
exit), so it imports only C modules and small ones of ours: ``_socket`` rather than ``socket``
(whose enums and ``selectors`` cost ~15 ms of CPU), ``bridge.fastjson`` rather than ``json``
(which brings ``re``), ``bridge.fastws``, ``bridge.paths`` without ``pathlib``. What only other
paths need is imported where they start: ``threading`` and the pumps for the relay, ``socket``
for the TCP transport, the asyncio client to start the daemon, ``redact`` for a message from
elsewhere. ``tests/proxy/test_proxy_imports.py`` runs the proxy through real OpenSSH and a real
daemon and checks what it loaded (docs/design/proxy.md, "Start-up budget").
"""

from __future__ import annotations

import _socket
import os
import stat
import sys
import time

from bridge.aws.caller import caller_params
from bridge.fastjson import dumps, loads
from bridge.fastws import BINARY, CLOSE, TEXT, WebSocketError, WsClient
from bridge.paths import (
    FD_SOCKET_NAME,
    SOCKET_NAME,
    TCP_ENDPOINT_NAME,
    RuntimeDirError,
    runtime_dir_name,
    state_dir_name,
    transport_kind,
    verify_private_dir,
)

TYPE_CHECKING = False  # typing itself is ~4 ms of the start; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, NoReturn

    Socket = _socket.socket

OPEN_TIMEOUT = 900.0  # a cold start (app Pending → InService) can take minutes
CONNECT_TIMEOUT = 5.0
_OPEN_ID = 1
_FD_OK = b"\0"  # bridge.daemon.fdpass.OK: the byte that carries the descriptor
_END_CLEAN = b"."  # bridge.daemon.fdpass.END_CLEAN: the session ended normally
_END_ERROR = b"!"  # bridge.daemon.fdpass.END_ERROR: followed by the cause, one line
_NOTICE = b"~"  # bridge.daemon.fdpass.NOTICE: a JSON-RPC notification during the session
_WATCH_HELLO = b"notices 1\n"  # bridge.daemon.fdpass.WATCH_HELLO: this watcher reads notices
_MAX_LINE = 4096  # bridge.daemon.fdpass.MAX_NOTICE: a longer line on the hand-off is cut
DAEMON_GONE = "the smconnect daemon went away mid-session (its log: `smconnect daemon logs`)"
WATCHER_NAME = b"smconnect-watch"  # /proc/<pid>/comm of the process left behind on fd passing


class ProxyError(Exception):
    """One line for stderr."""


class DaemonDirs:
    """Where the daemon's sockets and the proxy log are: ``bridge.paths.default_paths()``'s
    directories, as strings, so the proxy does without ``pathlib``."""

    __slots__ = ("runtime", "state")

    def __init__(self, runtime: str, state: str) -> None:
        self.runtime = runtime
        self.state = state

    @classmethod
    def default(cls) -> DaemonDirs:
        return cls(runtime_dir_name(), state_dir_name())

    def runtime_file(self, name: str) -> str:
        return os.path.join(self.runtime, name)


class _Quietly:
    """``contextlib.suppress``: ``contextlib`` (with ``collections`` and ``functools``) is ~8 ms
    of CPU the descriptor path need not pay."""

    def __init__(self, *kinds: type[BaseException]) -> None:
        self._kinds = kinds

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, self._kinds)


class _ArgumentError(Exception):
    """One line, no usage dump: ssh shows stderr verbatim."""


class ProxyArgs:
    """The proxy's command line: ``[--profile P] [--region R] [--endpoint-url U] [--no-start]
    [--fdpass] HOST``, options also as ``--name=value``. Parsed by hand: argparse (and the
    ``re``/``gettext`` work it does at import) is a cost every ssh connection would pay."""

    _VALUED = {"--profile": "profile", "--region": "region", "--endpoint-url": "endpoint_url"}
    _FLAGS = {"--no-start": "no_start", "--fdpass": "fdpass"}

    def __init__(self, argv: list[str]) -> None:
        self.profile: str | None = None
        self.region: str | None = None
        self.endpoint_url: str | None = None
        self.no_start = False
        self.fdpass = False
        hosts: list[str] = []
        args = iter(argv)
        for arg in args:
            name, eq, value = arg.partition("=")
            if name in self._VALUED:
                if not eq:
                    value = next(args, "")
                    if not value or value.startswith("--"):
                        raise _ArgumentError(f"argument {name}: expected one argument")
                setattr(self, self._VALUED[name], value)
            elif arg in self._FLAGS:
                setattr(self, self._FLAGS[arg], True)
            elif arg.startswith("-") and arg != "-":
                raise _ArgumentError(f"unrecognized argument: {arg}")
            else:
                hosts.append(arg)
        if not hosts:
            raise _ArgumentError("the following arguments are required: host")
        if len(hosts) > 1:
            raise _ArgumentError(f"unrecognized arguments: {' '.join(hosts[1:])}")
        self.host = hosts[0]


def _parse(argv: list[str]) -> ProxyArgs:
    return ProxyArgs(argv)


def _printable(text: str) -> str:
    """Nothing that came from elsewhere (a close reason, an AWS message) drives the terminal:
    control characters and escape sequences are shown escaped (``bridge.aws.validate.plain``,
    which the relay cannot import cheaply)."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def _say(message: str) -> None:
    sys.stderr.write(f"smconnect: {_printable(message)}\n")
    sys.stderr.flush()


def notice_line(payload: bytes) -> str | None:
    """What a daemon notification during the session says on ssh's stderr (which ssh shows on
    the terminal), the same on both paths: a ``space.idle`` warning is one line, in the
    daemon's words; anything else is not ours to say (None)."""
    try:
        message = loads(payload)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    params = message.get("params")
    if message.get("method") == "space.idle" and isinstance(params, dict):
        text = params.get("message")
        if isinstance(text, str) and text:
            return _redact(text)
    return None


def _redact(text: str) -> str:
    """``bridge.redact.redact``, imported when there is something to redact (it compiles its
    patterns with ``re`` at import: a cost the descriptor path need not pay)."""
    from bridge.redact import redact

    return redact(text)


def _notice(payload: bytes) -> None:
    line = notice_line(payload)
    if line is not None:
        _say(line)


def _log_failure(dirs: DaemonDirs, message: str) -> None:
    with _Quietly(OSError):
        os.makedirs(dirs.state, mode=0o700, exist_ok=True)
        path = os.path.join(dirs.state, "proxy.log")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as log:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()}: {message}\n")


# -- reaching the daemon -------------------------------------------------------------------------


def _unix_socket() -> Socket:
    return _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)


def _dial(dirs: DaemonDirs) -> WsClient:
    verify_private_dir(dirs.runtime)
    headers: dict[str, str] = {}
    sock: Socket
    if transport_kind() == "unix":
        sock = _unix_socket()
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(dirs.runtime_file(SOCKET_NAME))
        except BaseException:
            sock.close()
            raise
    else:
        import socket  # the TCP transport (no AF_UNIX) always relays: not the fast path

        with open(dirs.runtime_file(TCP_ENDPOINT_NAME), encoding="utf-8") as file:
            endpoint: Any = loads(file.read())
        headers["Authorization"] = f"Bearer {endpoint['token']}"
        sock = socket.create_connection(("127.0.0.1", int(endpoint["port"])), CONNECT_TIMEOUT)
    try:
        ws = WsClient.handshake(sock, headers=headers)
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    return ws


def _start_daemon() -> None:
    """The slow path: the asyncio client knows how to spawn the daemon and wait for it. Run
    without ``site`` (``bridge/proxy_start.py``), the packages the client needs are found
    once site has been set up here."""
    if sys.flags.no_site:
        import site

        site.main()
    import asyncio

    from bridge.daemon.client import DaemonClient, DaemonError

    async def start() -> None:
        client = await DaemonClient.open(autostart=True)
        await client.close()

    try:
        asyncio.run(start())
    except DaemonError as exc:
        raise ProxyError(str(exc)) from None


def _connect(dirs: DaemonDirs) -> WsClient:
    try:
        return _dial(dirs)
    except RuntimeDirError as exc:
        raise ProxyError(str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError, WebSocketError):
        _start_daemon()
    try:
        return _dial(dirs)
    except (OSError, ValueError, KeyError, TypeError, WebSocketError) as exc:
        raise ProxyError(f"cannot reach the smconnect daemon: {exc}") from None


# -- the relay -----------------------------------------------------------------------------------


def _close_message(ws: WsClient) -> str:
    return f"the session ended: {ws.close_reason or 'no reason given'}"


class _Opening:
    """The ``proxy.open`` exchange, on both paths: progress lines on the way, then the answer
    (``result``) and any messages that came with it (``early``, the relay's first bytes).
    One thread: the relay's stdin pump starts only once this is done."""

    def __init__(self, ws: WsClient) -> None:
        self.ws = ws
        self.early: list[tuple[int, bytes]] = []
        self.result: dict[str, Any] = {}

    def run(self, params: dict[str, Any]) -> None:
        request = {"jsonrpc": "2.0", "id": _OPEN_ID, "method": "proxy.open", "params": params}
        self.ws.send(TEXT, dumps(request).encode())
        self.ws.sock.settimeout(OPEN_TIMEOUT)
        try:
            while True:
                data = self.ws.sock.recv(65536)
                if not data:
                    raise ProxyError("the smconnect daemon closed the connection")
                self.ws.feed(data)
                messages = self.ws.messages()
                for index, (opcode, payload) in enumerate(messages):
                    if opcode == CLOSE:
                        raise ProxyError(_close_message(self.ws))
                    if opcode == TEXT and self._answered(loads(payload)):
                        self.early = messages[index + 1 :]
                        return
        except TimeoutError:
            raise ProxyError(
                f"the space did not become reachable within {OPEN_TIMEOUT:.0f} s"
            ) from None
        finally:
            self.ws.sock.settimeout(None)

    def _answered(self, message: Any) -> bool:
        if message.get("id") != _OPEN_ID:
            params = message.get("params") or {}
            if message.get("method") == "progress" and params.get("message"):
                _say(_redact(str(params["message"])))
            return False
        error = message.get("error")
        if error:
            raise ProxyError(str(error.get("message") or "the daemon refused the connection"))
        self.result = message.get("result") or {}
        return True


class _Relay:
    """The relay path: stdin → space in a thread, space → stdout in this one."""

    def __init__(self, ws: WsClient, early: list[tuple[int, bytes]]) -> None:
        import threading  # only this path has two threads

        self.ws = ws
        self._send_lock = threading.Lock()
        self._stdout_open = True
        self._early = early  # messages that came with the open answer

    def send(self, opcode: int, payload: bytes) -> None:
        with self._send_lock:
            self.ws.send(opcode, payload)

    def pump_stdin(self) -> None:
        """stdin → space. EOF is an empty binary message (a half-close)."""
        try:
            while data := os.read(0, 65536):
                self.send(BINARY, data)
            self.send(BINARY, b"")
        except OSError:
            with _Quietly(OSError):
                self.ws.sock.shutdown(_socket.SHUT_RDWR)

    def pump_stdout(self) -> str | None:
        """space → stdout until the daemon closes the stream; returns an error, if any."""
        messages, self._early = self._early, []
        while True:
            for opcode, payload in messages:
                if opcode == BINARY:
                    if payload:
                        self._write(payload)
                    elif self._stdout_open:
                        self._stdout_open = False
                        os.close(1)
                elif opcode == TEXT:
                    _notice(payload)
                elif opcode == CLOSE:
                    code = self.ws.close_code
                    return None if code in (1000, 1005, None) else _close_message(self.ws)
            data = self.ws.sock.recv(262144)
            if not data:  # no close frame: the daemon died or dropped us
                return DAEMON_GONE
            self.ws.feed(data)
            with self._send_lock:
                messages = self.ws.messages()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self._stdout_open:
            view = view[os.write(1, view) :]


# -- the descriptor hand-off ---------------------------------------------------------------------


def _stdout_takes_a_descriptor() -> bool:
    """ssh's ``ProxyUseFdpass yes`` gives us a socket; with ``no`` (or another client) a pipe."""
    try:
        return stat.S_ISSOCK(os.fstat(1).st_mode)
    except OSError:
        return False


_INT = 4  # sizeof(int) of SCM_RIGHTS descriptors wherever AF_UNIX passes them (LP64, ILP32)


def _recv_fds(sock: Socket, maxfds: int) -> tuple[bytes, list[int]]:
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


def redeem_ticket(path: str, ticket: str) -> tuple[int, Socket]:
    """The descriptor ``fd.sock`` hands out for ``ticket`` and the connection it came on (the
    daemon tells how the session ended there), or ProxyError with the refusal's reason."""
    sock = _unix_socket()
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(path)
        sock.sendall(ticket.encode("ascii") + b"\n")
        data, fds = _recv_fds(sock, 1)
    except OSError as exc:
        sock.close()
        raise ProxyError(f"cannot fetch the connection from the smconnect daemon: {exc}") from None
    if data[:1] == _FD_OK and len(fds) == 1:
        sock.settimeout(None)
        with _Quietly(OSError):  # a daemon gone already shows at the end notice
            sock.sendall(_WATCH_HELLO)
        return fds[0], sock
    for fd in fds:
        os.close(fd)
    with _Quietly(OSError):
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


def _lines(watch: Socket) -> Iterator[bytes]:
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


def how_it_ended(watch: Socket, on_notice: Callable[[bytes], None] = lambda _: None) -> str | None:
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
            reason = line[1:].decode("utf-8", "replace").strip()
            return f"the session ended: {reason or 'no reason given'}"
    return DAEMON_GONE


def _stay_behind(watch: Socket, dirs: DaemonDirs, host: str) -> None:
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
        with _Quietly(OSError), open("/proc/self/comm", "wb") as comm:
            comm.write(WATCHER_NAME)
        message = how_it_ended(watch, _notice)
        if message is not None:
            _say(message)
            _log_failure(dirs, f"{host}: {message}")
        watch.close()  # the daemon waits for this before closing ssh's side
    except BaseException:  # noqa: S110 - nobody is left to tell; never a traceback
        pass
    finally:
        os._exit(0)


def context_params(args: ProxyArgs) -> dict[str, str | None]:
    """The AWS context of this connection. A host of our ssh config passes its own identity
    (``--profile``/``--region``/``--endpoint-url``, as installed); with none given (the
    wildcard host: a space listed since the last install) it is the shell's, read as the CLI
    reads it (``bridge.aws.caller``, which ``AwsContext.from_env`` is built on), so both name
    the same identity."""
    env = os.environ.get
    given = args.profile or args.region or args.endpoint_url
    return {  # the profile is the caller's (AwsContext.with_profile): exported keys beat it
        "region": args.region
        or (None if given else env("AWS_REGION") or env("AWS_DEFAULT_REGION") or None),
        "endpoint_url": args.endpoint_url or (None if given else env("AWS_ENDPOINT_URL") or None),
    }


def _run(args: ProxyArgs, dirs: DaemonDirs) -> int:
    fdpass = args.fdpass and transport_kind() == "unix" and _stdout_takes_a_descriptor()
    ws = _connect(dirs)
    opening = _Opening(ws)
    # This ssh's caller: its shell's exported credentials or profile, sent on every connection,
    # so the daemon always has the freshest ones (docs/design/identity.md). A host of our ssh
    # config passes its own profile/region/endpoint (context_params); the wildcard, the shell's.
    opening.run(
        {
            **caller_params(os.environ, args.profile),
            **context_params(args),
            "host": args.host,
            "start": not args.no_start,
            "fdpass": fdpass,
        }
    )
    ticket = opening.result.get("ticket")
    if isinstance(ticket, str):  # an older daemon, or one without fd.sock, just relays
        ws.close()
        _close_quietly(ws.sock)
        fd, watch = redeem_ticket(dirs.runtime_file(FD_SOCKET_NAME), ticket)
        try:
            _pass_to_ssh(fd)
        except OSError:
            watch.close()
            raise
        _stay_behind(watch, dirs, args.host)
        _exit_at_once()
    import threading

    relay = _Relay(ws, opening.early)
    threading.Thread(target=relay.pump_stdin, daemon=True).start()
    try:
        error = relay.pump_stdout()
    except OSError as exc:
        error = None if isinstance(exc, BrokenPipeError) else f"I/O error: {exc}"
    ws.close()
    _close_quietly(ws.sock)
    if error:
        raise ProxyError(error)
    return 0


def _exit_at_once() -> NoReturn:
    """Exit without the interpreter's shutdown (module teardown, garbage collection: tens of
    ms). On the descriptor path ssh waits for this process to exit before it starts SSH's
    handshake (OpenSSH reaps the ProxyCommand once it has the descriptor), so every connection
    would pay that shutdown. Nothing is left to do but flush stderr."""
    with _Quietly(OSError, ValueError):
        sys.stderr.flush()
    os._exit(0)


def _close_quietly(sock: Socket) -> None:
    with _Quietly(OSError):
        sock.close()


def _claim_standard_fds() -> None:
    """ssh may start us with a standard descriptor closed; a socket opened later would then
    take fd 0/1/2 and our stdout writes would go into the daemon connection. /dev/null fills
    each gap first (``os.open`` returns the lowest free descriptor)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)


def main(argv: list[str]) -> int:
    _claim_standard_fds()
    try:
        args = _parse(argv)
    except _ArgumentError as exc:
        _say(f"proxy: {exc} (usage: smconnect proxy [--profile P] [--region R] [--fdpass] HOST)")
        return 2
    try:
        dirs = DaemonDirs.default()
    except RuntimeDirError as exc:
        _say(_redact(str(exc)))
        return 1
    try:
        return _run(args, dirs)
    except KeyboardInterrupt:
        return 130
    except (ProxyError, WebSocketError, OSError, RuntimeDirError) as exc:
        message = _redact(str(exc))
    _say(message)
    _log_failure(dirs, f"{args.host}: {message}")
    return 1
