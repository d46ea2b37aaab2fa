"""``smconnect proxy <host>``: the ssh ProxyCommand.

ssh starts this for every connection, so its start-up is budgeted (< 60 ms of its own): it
imports only light stdlib modules and speaks to the daemon through ``bridge.fastws``. Only when
no daemon answers does it take the slow path and import the asyncio client to start one.

It asks the daemon for a stream into the space's SSH server (``proxy.open``), then takes one of
two paths. With ``--fdpass`` and a socket for stdout (ssh's ``ProxyUseFdpass yes``) the daemon
answers with a ticket, and ``bridge.proxy_fdpass`` hands the channel's descriptor to ssh and
exits. Otherwise (a pipe: ``-o ProxyUseFdpass=no``, other ssh clients; the TCP transport; a
daemon without ``fd.sock``) ``bridge.proxy_relay`` copies bytes between the stream and
stdin/stdout. Progress goes to stderr (ssh shows it); a failure is one readable line on
stderr, also appended to the proxy log (``bridge.proxy_messages``).

The descriptor path is on every connection's critical path (ssh waits for this process to
exit), so it imports only C modules and small ones of ours: ``_socket`` rather than ``socket``
(whose enums and ``selectors`` cost ~15 ms of CPU), ``bridge.fastjson`` rather than ``json``
(which brings ``re``), ``bridge.fastws``, ``bridge.paths`` without ``pathlib``. What only other
paths need is imported where they start: ``bridge.proxy_relay`` (and ``threading``) for the
relay, ``socket`` for the TCP transport, the asyncio client to start the daemon, ``redact`` for
a message from elsewhere. ``tests/proxy/test_proxy_imports.py`` runs the proxy through real
OpenSSH and a real daemon and checks what it loaded (docs/design/proxy.md, "Start-up budget").
"""

from __future__ import annotations

import _socket
import os
import sys

from bridge.aws.caller import caller_params
from bridge.fastjson import dumps, loads
from bridge.fastws import CLOSE, TEXT, WebSocketError, WsClient
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
from bridge.proxy_fdpass import hand_off, stdout_takes_a_descriptor
from bridge.proxy_messages import ProxyError, Quietly, redact, report, say, session_ended

TYPE_CHECKING = False  # typing itself is ~4 ms of the start; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

    Socket = _socket.socket

OPEN_TIMEOUT = 900.0  # a cold start (app Pending → InService) can take minutes
CONNECT_TIMEOUT = 5.0
_OPEN_ID = 1


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


# -- reaching the daemon -------------------------------------------------------------------------


def _dial(dirs: DaemonDirs) -> WsClient:
    verify_private_dir(dirs.runtime)
    headers: dict[str, str] = {}
    sock: Socket
    if transport_kind() == "unix":
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
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


# -- the open exchange, then one of two paths ----------------------------------------------------


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
                        raise ProxyError(session_ended(self.ws.close_reason))
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
                say(redact(str(params["message"])))
            return False
        error = message.get("error")
        if error:
            raise ProxyError(str(error.get("message") or "the daemon refused the connection"))
        self.result = message.get("result") or {}
        return True


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
    fdpass = args.fdpass and transport_kind() == "unix" and stdout_takes_a_descriptor()
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
        with Quietly(OSError):
            ws.sock.close()
        hand_off(dirs.runtime_file(FD_SOCKET_NAME), ticket, dirs.state, args.host)
    from bridge.proxy_relay import relay  # the fallback: threads, not on the descriptor path

    relay(ws, opening.early)
    return 0


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
        say(f"proxy: {exc} (usage: smconnect proxy [--profile P] [--region R] [--fdpass] HOST)")
        return 2
    try:
        dirs = DaemonDirs.default()
    except RuntimeDirError as exc:
        say(redact(str(exc)))
        return 1
    try:
        return _run(args, dirs)
    except KeyboardInterrupt:
        return 130
    except (ProxyError, WebSocketError, OSError, RuntimeDirError) as exc:
        report(dirs.state, args.host, redact(str(exc)))
    return 1
