"""Local notebooks on remote kernels: a stable local URL for a space's Jupyter server.

AWS's connector cannot attach a local notebook to a space's kernels (users ask for it). The
daemon can: per space it owns a loopback listener whose port stays the same for the daemon's
life, and forwards every accepted connection over SSH direct-tcpip to the Jupyter server inside
the space. The SSH connection runs on a data channel of its own, so notebook traffic never
queues behind the editor's ~1 MB/s session. The channel resumes dropped websockets itself (a
running cell's output arrives complete); if it dies beyond resume, the next local connection
rebuilds it, and the URL the user pasted keeps working.

JupyterLab spaces serve Jupyter at 127.0.0.1:8888 under ``/jupyterlab/default`` with an empty
token. CodeEditor spaces have none: when ``jupyter`` is on the space's PATH we start one bound
to the space's loopback with a token we generate (see ``_REMOTE_SCRIPT``). Either way the local
listener wants a token on every request (``jupyter_gate``): an empty-token server that allows
every origin must not be one loopback port away from any local user or web page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import asyncssh

from bridge.aws.context import AwsContext
from bridge.aws.studio_space import Space
from bridge.daemon.dispatch import Api
from bridge.daemon.errors import (
    ApiError,
    app_not_running,
    fail,
    local_port_error,
    remote_access_disabled,
)
from bridge.daemon.jupyter_gate import (
    HEAD_END,
    Gate,
    Head,
    authorize,
    refuse,
    requests_up,
    responses_down,
)
from bridge.daemon.params import ContextParams, SpaceParams
from bridge.daemon.pool import ChannelPool, ManagedChannel
from bridge.daemon.server import Connection
from bridge.daemon.spaces import SpacesService, progress_to
from bridge.daemon.ssh_link import drop_link, link_alive
from bridge.redact import redact
from bridge.timestamps import rfc3339

log = logging.getLogger("smconnect.daemon.jupyter")

LOCAL_HOST = "127.0.0.1"
JUPYTERLAB_PORT = 8888
JUPYTERLAB_BASE_URL = "/jupyterlab/default/"
ON_DEMAND_BASE_URL = "/jupyter/default/"
ON_DEMAND_FIRST_PORT = 8889  # 8888 is the CodeEditor IDE's own port
VERIFY_TIMEOUT = 30.0
SCRIPT_TIMEOUT = 90.0
HEAD_TIMEOUT = 30.0  # for a client's first request head
FORBIDDEN_HINT = (
    "smconnect: this Jupyter URL needs its token: use the URL printed by `smconnect kernels"
)
HOLD_OFF = 3.0  # seconds a failed rebuild is answered from memory for incoming connections
_MARK = "SMCONNECT-JUPYTER"

# Fed to ``bash -s`` in the space: on stdin, so the token never shows in a process listing's
# argv. jupyter is looked up on the SSH server's PATH (the image's, where SageMaker puts conda),
# then on a login shell's (``~/.bash_profile`` additions). A server we started earlier (state
# file, 0600 in a 0700 directory) is reused while its process lives, so a restarted daemon does
# not pile servers up.
_REMOTE_SCRIPT = r"""
export JUPYTER_TOKEN='{token}'
m={mark}
j=$(command -v jupyter) || j=$(bash -lc 'command -v jupyter' < /dev/null 2> /dev/null) \
  || {{ echo "$m missing"; exit 0; }}
dir="$HOME/.smconnect"
mkdir -p "$dir" && chmod 700 "$dir" || {{ echo "$m failed"; exit 0; }}
state="$dir/jupyter-server"
log="$dir/jupyter-server.log"
if [ -f "$state" ]; then
  read -r pid port token < "$state"
  # kill -0 alone could meet a reused pid after the space restarted (the home persists)
  if [ -n "$port" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q jupyter; then
    echo "$m running $port $token"; exit 0
  fi
  rm -f "$state"
fi
setsid nohup "$j" server --ServerApp.ip=127.0.0.1 --ServerApp.port={first_port} \
  --ServerApp.port_retries=50 --ServerApp.base_url={base_url} --ServerApp.open_browser=False \
  --ServerApp.allow_root=True --ServerApp.root_dir="$HOME" > "$log" 2>&1 < /dev/null &
pid=$!
i=0
while [ $i -lt 600 ]; do
  if ! kill -0 $pid 2>/dev/null; then
    echo "$m failed"; tail -n 15 "$log" | sed "s/^/$m log /"; exit 0
  fi
  port=$(sed -n 's#.*http://127\.0\.0\.1:\([0-9][0-9]*\){base_url}.*#\1#p' "$log" | head -n 1)
  if [ -n "$port" ]; then
    (umask 077; echo "$pid $port $JUPYTER_TOKEN" > "$state")
    echo "$m started $port $JUPYTER_TOKEN"; exit 0
  fi
  sleep 0.1
  i=$((i + 1))
done
echo "$m failed"; tail -n 15 "$log" | sed "s/^/$m log /"
exit 0
"""


@dataclass(frozen=True, kw_only=True)
class CloseParams(ContextParams):
    space: str


@dataclass(frozen=True)
class Target:
    """Where the Jupyter server listens inside the space, and how to authenticate to it."""

    port: int
    base_url: str
    token: str
    on_demand: bool  # started by us (CodeEditor), rather than the space's own server


class JupyterForward:
    """One space's local listener and the SSH connection its connections are forwarded over."""

    def __init__(
        self,
        spaces: SpacesService,
        pool: ChannelPool,
        context: AwsContext,
        space: Space,
        token: str,
    ) -> None:
        self._spaces = spaces
        self._pool = pool
        self.context = context
        self.space = space
        self.target: Target | None = None
        self.ssh: asyncssh.SSHClientConnection | None = None
        self.managed: ManagedChannel | None = None
        self.local_port = 0
        self.opened_at = time.time()
        self.connections = 0
        self.rebuilds = 0
        self._token = token  # the listener's, and a started server's; hex: no shell quoting
        self._xsrf = secrets.token_hex(16)  # given to clients that bring the token (the gate)
        self._listener: asyncio.Server | None = None
        self._lock = asyncio.Lock()
        self._pipes: set[asyncio.Task[None]] = set()
        self._built = False
        self._failure: tuple[float, Exception] | None = None  # the last rebuild's, for HOLD_OFF
        self._explained: asyncssh.SSHClientConnection | None = None  # its loss was logged

    # -- local side ----------------------------------------------------------------------------

    async def listen(self, port: int) -> None:
        """Bind the loopback listener; a port used before is preferred, any free one otherwise."""
        for candidate in dict.fromkeys((port, 0)):
            try:
                self._listener = await asyncio.start_server(
                    self._accept, LOCAL_HOST, candidate, reuse_address=True
                )
                break
            except OSError:
                if candidate == 0:
                    raise
        assert self._listener is not None
        self.local_port = int(self._listener.sockets[0].getsockname()[1])

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._pipes.add(task)
        task.add_done_callback(self._pipes.discard)

    @property
    def token(self) -> str:
        """What a client presents: the on-demand server's own token, else the forward's."""
        if self.target is not None and self.target.token:
            return self.target.token
        return self._token

    @property
    def cookie_name(self) -> str:
        return f"smconnect-jupyter-{self.local_port}"  # cookies ignore ports: one per listener

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Check the first request for the token, then relay requests (each checked) and
        responses (copied) between the client and a direct-tcpip channel to the server."""
        self.connections += 1
        try:
            raw = await asyncio.wait_for(reader.readuntil(HEAD_END), HEAD_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            writer.close()
            return
        gate = Gate(self.token, self.cookie_name, self._xsrf)
        head = Head.parse(raw)
        how = authorize(head, gate) if head is not None else None
        if head is None or how is None:
            await refuse(writer, 403, f"{FORBIDDEN_HINT} {self.space.name}`\n")
            return
        try:
            remote_reader, remote_writer = await self._open_remote()
        except Exception as exc:
            cause = redact(str(exc))
            log.warning("jupyter %s: cannot reach the space: %s", self.space.name, cause)
            # The client (a notebook, a browser) shows this body: it names the cause too.
            text = f"smconnect: cannot reach space {self.space.name}: {cause}\n"
            await refuse(writer, 502, text)
            return
        # A browser opened the URL with ?token=: a cookie lets the page's own requests in.
        cookie = (
            f"{gate.cookie_name}={gate.token}; Path=/; HttpOnly; SameSite=Strict"
            if how == "query"
            else None
        )
        tasks = [
            asyncio.ensure_future(requests_up(head, how, gate, reader, remote_writer)),
            asyncio.ensure_future(responses_down(remote_reader, writer, cookie)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            remote_writer.close()
            writer.close()
        await self._explain_cut()

    async def _explain_cut(self) -> None:
        """A client connection ended; if the space's side went away under it, log why, once
        per lost SSH connection. The client only sees its connection (a kernel's websocket)
        close, and its next request gets a 502 naming the cause."""
        ssh = self.ssh
        if ssh is None or self.alive or ssh is self._explained:
            return
        self._explained = ssh
        try:
            ws = self._spaces.workspace(self.context)
            ws.forget_spaces()
            space = await ws.resolve(self.space.ref)
            cause = f"space {space.name!r} stopped" if not space.running else "connection lost"
        except Exception as exc:
            cause = f"connection lost ({redact(str(exc))})"
        log.warning("jupyter %s: client connections cut: %s", self.space.name, cause)

    async def _open_remote(self) -> tuple[asyncssh.SSHReader[bytes], asyncssh.SSHWriter[bytes]]:
        """A direct-tcpip channel to the server; a dead SSH connection is rebuilt once."""
        for attempt in range(2):
            ssh = await self.connection(None)
            assert self.target is not None
            try:
                return await ssh.open_connection(LOCAL_HOST, self.target.port, encoding=None)
            except (asyncssh.Error, OSError):
                if attempt or not ssh.is_closed():
                    raise
                log.info("jupyter %s: ssh connection gone, rebuilding", self.space.name)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the space side ------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return link_alive(self.ssh, self.managed)

    async def connection(self, conn: Connection | None) -> asyncssh.SSHClientConnection:
        """The live SSH connection, rebuilt on its own data channel if it died.

        With ``conn`` (an API call) a stopped space is started and progress is reported; a
        lazy rebuild for an incoming local connection does not start a space (that takes
        minutes on AWS) and fails instead.
        """
        async with self._lock:
            if self.alive:
                assert self.ssh is not None
                return self.ssh
            failed = self._failure
            if conn is None and failed is not None and time.monotonic() - failed[0] < HOLD_OFF:
                raise failed[1]  # a client retrying in a loop must not hammer AWS
            try:
                return await self._rebuild(conn)
            except Exception as exc:
                self._failure = (time.monotonic(), exc)
                raise

    async def _rebuild(self, conn: Connection | None) -> asyncssh.SSHClientConnection:
        """Runs under the lock."""
        await self._drop_ssh()
        ws = self._spaces.workspace(self.context)
        space = await ws.resolve(self.space.ref)
        progress = progress_to(conn, space)
        if conn is not None:
            space = await self._spaces.ensure_running(ws, space, start=True, progress=progress)
        elif not space.running:
            raise app_not_running(space.name, hint=False)
        alias = await self._spaces.alias(ws, space)
        managed, ssh = await self._pool.open_ssh(
            ws, space, purpose="jupyter", ssh_host=alias, progress=progress
        )
        self.ssh, self.managed, self.space = ssh, managed, space
        self.rebuilds += self._built
        self._built = True
        try:
            self.target = await self._find_server(ssh)
        except BaseException:
            await self._drop_ssh()
            raise
        self._failure = None
        return ssh

    async def refresh_target(self) -> None:
        """Re-check an on-demand server (it may have exited); a space's own server is fixed."""
        async with self._lock:
            if self.ssh is not None and self.target is not None and self.target.on_demand:
                self.target = await self._find_server(self.ssh)

    async def _find_server(self, ssh: asyncssh.SSHClientConnection) -> Target:
        if self.space.app_type == "JupyterLab":
            return Target(JUPYTERLAB_PORT, JUPYTERLAB_BASE_URL, "", on_demand=False)
        if self.space.app_type != "CodeEditor":
            raise ApiError(
                f"space {self.space.name!r} is a {self.space.app_type} space; "
                "only JupyterLab and CodeEditor spaces can serve kernels",
                kind="jupyter_unsupported",
            )
        return await self._start_server(ssh)

    async def _start_server(self, ssh: asyncssh.SSHClientConnection) -> Target:
        script = _REMOTE_SCRIPT.format(
            token=self._token,
            mark=_MARK,
            first_port=ON_DEMAND_FIRST_PORT,
            base_url=ON_DEMAND_BASE_URL,
        )
        result = await ssh.run("bash -s", input=script, check=False, timeout=SCRIPT_TIMEOUT)
        out = result.stdout if isinstance(result.stdout, str) else ""
        lines = [ln[len(_MARK) + 1 :] for ln in out.splitlines() if ln.startswith(_MARK + " ")]
        status = lines[0].split() if lines else []
        if status[:1] == ["missing"]:
            raise ApiError(
                f"space {self.space.name!r} (CodeEditor) has no Jupyter server and no `jupyter` "
                "command on its login PATH; install one in the space "
                "(`pip install jupyter-server ipykernel`) or use a JupyterLab space",
                kind="jupyter_missing",
            )
        if len(status) == 3 and status[0] in ("started", "running") and status[1].isdigit():
            if status[0] == "started":
                log.info("jupyter %s: started a server on port %s", self.space.name, status[1])
            return Target(int(status[1]), ON_DEMAND_BASE_URL, status[2], on_demand=True)
        tail = [ln[4:] for ln in lines if ln.startswith("log ")][-5:]
        detail = redact(" | ".join(tail))[:600] if tail else f"exit status {result.exit_status}"
        raise ApiError(
            f"could not start a Jupyter server in space {self.space.name!r}: {detail}",
            kind="jupyter_start_failed",
        )

    # -- checks and status ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        base = self.target.base_url if self.target is not None else "/"
        return f"http://{LOCAL_HOST}:{self.local_port}{base}"

    async def verify(self) -> dict[str, Any]:
        """GET api/status, api/kernelspecs and api/kernels through the local URL itself."""
        return await asyncio.to_thread(_verify, self.url, self.token, self.space.name)

    def describe(self) -> dict[str, Any]:
        target = self.target
        token = self.token
        return {
            "space": self.space.name,
            "ref": self.space.ref,
            "app_type": self.space.app_type,
            "url": self.url,
            "connect_url": f"{self.url}?token={token}",
            "token": token,
            "base_url": target.base_url if target is not None else None,
            "local_port": self.local_port,
            "remote_port": target.port if target is not None else None,
            "on_demand": target.on_demand if target is not None else None,
            "state": "connected" if self.alive else "idle",
            "connections": self.connections,
            "active_connections": len(self._pipes),
            "rebuilds": self.rebuilds,
            "opened_at": rfc3339(self.opened_at),
            "session": self.managed.describe() if self.alive and self.managed else None,
        }

    # -- teardown ------------------------------------------------------------------------------

    async def _drop_ssh(self) -> None:
        ssh, managed = self.ssh, self.managed
        self.ssh = self.managed = None
        await drop_link(self._pool, ssh, managed)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        for task in list(self._pipes):
            task.cancel()
        async with self._lock:
            await self._drop_ssh()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.wait_closed(), 5.0)


def _verify(url: str, token: str, space: str) -> dict[str, Any]:
    """Blocking: the three GETs (the daemon carries no HTTP client library; urllib will do)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    headers = {"Authorization": f"token {token}"} if token else {}
    found: dict[str, Any] = {}
    for name in ("status", "kernelspecs", "kernels"):
        request = urllib.request.Request(f"{url}api/{name}", headers=headers)  # noqa: S310
        try:
            with opener.open(request, timeout=VERIFY_TIMEOUT) as response:
                found[name] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise ApiError(
                f"the Jupyter server in space {space!r} answered api/{name} with HTTP {exc.code}",
                kind="jupyter_unreachable",
            ) from None
        except (OSError, ValueError) as exc:
            raise ApiError(
                f"the Jupyter server in space {space!r} did not answer api/{name} "
                f"through the forward: {redact(str(exc))[:200]}",
                kind="jupyter_unreachable",
            ) from None
    return found


class JupyterService:
    """The ``jupyter.*`` methods, on top of the spaces service and the channel pool."""

    def __init__(self, spaces: SpacesService, pool: ChannelPool) -> None:
        self._spaces = spaces
        self._pool = pool
        self._forwards: dict[str, JupyterForward] = {}  # by space ARN
        # Each space keeps its port and token for the daemon's life, across closes: a URL
        # saved in an editor keeps working.
        self._ports: dict[str, int] = {}
        self._tokens: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def busy(self) -> bool:
        return bool(self._forwards)

    def using(self, space: Space) -> list[str]:
        """The space's Jupyter forward (kernels, notebooks), for ``stop`` to list."""
        fwd = self._forwards.get(space.arn)
        return [f"Jupyter server forward {fwd.url} (kernels)"] if fwd is not None else []

    def register(self, api: Api) -> None:
        api.add("jupyter.ensure", self.ensure)
        api.add("jupyter.list", self.list_servers)
        api.add("jupyter.close", self.close_one)

    async def ensure(self, conn: Connection, params: SpaceParams) -> dict[str, Any]:
        """Start the space if needed, open or reuse its forward, check it, describe it."""
        ws = self._spaces.workspace(params.context)
        try:
            space = await ws.resolve(params.space)
            async with self._locks.setdefault(space.arn, asyncio.Lock()):
                return await self._ensure(conn, params.context, space)
        except OSError as exc:
            raise local_port_error(LOCAL_HOST, exc) from None
        except Exception as exc:
            raise fail(exc) from None

    async def _ensure(self, conn: Connection, context: AwsContext, space: Space) -> dict[str, Any]:
        if space.remote_access != "ENABLED":
            raise remote_access_disabled(space.name)
        fwd = self._forwards.get(space.arn)
        created = fwd is None
        if fwd is None:
            token = self._tokens.setdefault(space.arn, secrets.token_hex(24))
            fwd = JupyterForward(self._spaces, self._pool, context, space, token)
            await fwd.listen(self._ports.get(space.arn, 0))
            self._forwards[space.arn] = fwd
            self._ports[space.arn] = fwd.local_port
        try:
            await conn.notify(
                "progress",
                {"space": space.name, "phase": "jupyter", "message": "connecting to Jupyter"},
            )
            fresh = not fwd.alive
            await fwd.connection(conn)
            if not fresh:
                await fwd.refresh_target()
            found = await fwd.verify()
        except BaseException:
            if created:
                self._forwards.pop(space.arn, None)
                await fwd.close()
            raise
        specs = found["kernelspecs"]
        return {
            **fwd.describe(),
            "space": fwd.space.name,
            "status": found["status"],
            "kernelspecs": specs.get("kernelspecs", {}) if isinstance(specs, dict) else {},
            "default_kernel": specs.get("default") if isinstance(specs, dict) else None,
            "kernels": found["kernels"],
        }

    async def list_servers(self, conn: Connection, params: None) -> dict[str, Any]:
        return {"servers": [f.describe() for f in self._forwards.values()]}

    async def close_one(self, conn: Connection, params: CloseParams) -> dict[str, Any]:
        """By name or ``domain-id/name`` among the open forwards: no AWS call needed."""
        matches = [
            (arn, f)
            for arn, f in self._forwards.items()
            if params.space in (f.space.name, f.space.ref)
        ]
        if not matches:
            raise ApiError(f"no Jupyter forward for space {params.space!r}", kind="not_found")
        if len(matches) > 1:
            raise ApiError(
                f"{params.space!r} matches several spaces: "
                + ", ".join(f.space.ref for _, f in matches),
                kind="ambiguous_space",
            )
        arn, fwd = matches[0]
        self._forwards.pop(arn, None)
        await fwd.close()
        return {"closed": fwd.space.name, "ref": fwd.space.ref, "local_port": fwd.local_port}

    async def close(self) -> None:
        forwards, self._forwards = list(self._forwards.values()), {}
        for fwd in forwards:
            with contextlib.suppress(Exception):
                await fwd.close()
