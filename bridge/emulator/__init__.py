"""A local SageMaker Studio: control plane (HTTP), session broker (websockets) and space
runtimes on one event loop, reachable by unmodified boto3 through ``AWS_ENDPOINT_URL``.
With ``tls`` the API is HTTPS and StreamUrls are ``wss://``, under a CA made at start
(``tls.py``) that ``env()`` names for clients to trust.

This module stays light: the control plane, the broker and the runtimes are imported when an
emulator starts, so importing ``bridge.emulator.agent`` or ``.runtime`` costs nothing extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from bridge.emulator.config import EmulatorConfig, default_config

if TYPE_CHECKING:
    import ssl

    from bridge.emulator.agent import SessionBroker
    from bridge.emulator.control.plane import ControlPlane
    from bridge.emulator.control.ports import RuntimeFactory, SessionGateway
    from bridge.emulator.control.server import ControlServer
    from bridge.emulator.delay import DelayLine
    from bridge.emulator.tls import EmulatorTls

__all__ = ["Emulator", "EmulatorThread", "GatewayFactory", "start_in_thread"]

T = TypeVar("T")
GatewayFactory = Callable[[EmulatorConfig], "SessionGateway"]


class Emulator:
    """``await start()``, use ``endpoint_url`` / ``env()``, ``await stop()``.

    ``gateway_factory`` and ``runtime_factory`` replace the real ``SessionBroker`` and
    ``SpaceRuntime``; leave them out for the real thing.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        gateway_factory: GatewayFactory | None = None,
        runtime_factory: RuntimeFactory | None = None,
    ) -> None:
        self.config = config if config is not None else default_config()
        self._gateway_factory = gateway_factory
        self._runtime_factory = runtime_factory
        self._gateway: SessionGateway | None = None
        self._plane: ControlPlane | None = None
        self._server: ControlServer | None = None
        self._api_line: DelayLine | None = None  # in front of the API with --latency-ms
        self._root: Path | None = None
        self._tls: EmulatorTls | None = None

    async def start(self) -> None:
        from bridge.emulator.control.plane import ControlPlane
        from bridge.emulator.control.server import ControlServer

        gateway_factory, runtime_factory = self._gateway_factory, self._runtime_factory
        if runtime_factory is None:
            from bridge.emulator.control import wiring

            runtime_factory = wiring.space_runtime
        self._root = Path(tempfile.mkdtemp(prefix="smconnect-emulator-"))
        try:
            tls = None
            if self.config.tls:
                from bridge.emulator.tls import make_tls

                self._tls = await asyncio.to_thread(make_tls, self._root)
                tls = self._tls.server
            if gateway_factory is None:
                gateway_factory = functools.partial(_broker_gateway, tls=tls)
            self._gateway = gateway_factory(self.config)
            await self._gateway.start()
            self._plane = ControlPlane(self.config, self._gateway, runtime_factory, self._root)
            self._server = ControlServer(self._plane, self.config.host, self.config.port, tls)
            await self._server.start()
            if self.config.latency_ms > 0:
                from bridge.emulator.delay import DelayLine

                self._api_line = DelayLine(
                    "127.0.0.1", self._server.port, self.config.latency_ms / 1000.0
                )
                await self._api_line.start()
            await self._plane.seed_running_apps()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the runtimes, then the HTTP server, then the broker; remove the temp root."""
        plane, self._plane = self._plane, None
        server, self._server = self._server, None
        gateway, self._gateway = self._gateway, None
        root, self._root = self._root, None
        line, self._api_line = self._api_line, None
        self._tls = None
        if line is not None:
            await line.stop()
        if plane is not None:
            await plane.shutdown()
        if server is not None:
            await server.stop()
        if gateway is not None:
            await gateway.stop()
        if root is not None:
            await asyncio.to_thread(shutil.rmtree, root, True)

    @property
    def plane(self) -> ControlPlane:
        """Resources, delays and fault switches (``plane.faults``) of the running emulator."""
        if self._plane is None:
            raise RuntimeError("the emulator is not running")
        return self._plane

    @property
    def root(self) -> Path:
        """The emulator's private temp directory; each runtime gets a folder in it."""
        if self._root is None:
            raise RuntimeError("the emulator is not running")
        return self._root

    @property
    def gateway(self) -> SessionGateway:
        if self._gateway is None:
            raise RuntimeError("the emulator is not running")
        return self._gateway

    @property
    def broker(self) -> SessionBroker:
        """The real session broker (its ``faults``); only with the default wiring."""
        from bridge.emulator.control.wiring import BrokerGateway

        gateway = self.gateway
        if not isinstance(gateway, BrokerGateway):
            raise RuntimeError("this emulator runs with a stand-in session gateway")
        return gateway.broker

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host = self.config.host
        if host in ("0.0.0.0", ""):  # noqa: S104 (a comparison, not a bind)
            host = "127.0.0.1"
        scheme = "http" if self._tls is None else "https"
        if self._api_line is not None:
            return f"{scheme}://127.0.0.1:{self._api_line.port}"
        return f"{scheme}://{host}:{self._server.port}"

    def env(self) -> dict[str, str]:
        """What a shell or subprocess needs for boto3/the AWS CLI to talk to this emulator.

        botocore reads AWS_DEFAULT_REGION (not AWS_REGION); other SDKs read AWS_REGION. With
        ``tls``, the CA to trust: botocore reads AWS_CA_BUNDLE, Python's default SSL context
        (the daemon's websockets) SSL_CERT_FILE, in place of the system's bundle.
        """
        cred = self.config.credentials[0]
        env = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": cred.access_key_id,
            "AWS_SECRET_ACCESS_KEY": cred.secret_access_key,
            "AWS_DEFAULT_REGION": self.config.region,
            "AWS_REGION": self.config.region,
        }
        if cred.session_token:
            env["AWS_SESSION_TOKEN"] = cred.session_token
        if self._tls is not None:
            env["AWS_CA_BUNDLE"] = env["SSL_CERT_FILE"] = str(self._tls.ca_file)
        return env


def _broker_gateway(config: EmulatorConfig, tls: ssl.SSLContext | None = None) -> SessionGateway:
    from bridge.emulator.control.wiring import BrokerGateway

    idle = config.limits.session_idle_timeout_minutes * config.minute_seconds
    return BrokerGateway(
        pacing="unthrottled" if config.pacing == "unthrottled" else "realistic",
        idle_timeout=idle or None,
        latency=config.latency_ms / 1000.0,
        agent_burst=config.agent_burst,
        tls=tls,
    )


class EmulatorThread:
    """An emulator running on a background thread's event loop, for synchronous callers."""

    def __init__(
        self, emulator: Emulator, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.emulator = emulator
        self._loop = loop
        self._thread = thread

    @property
    def endpoint_url(self) -> str:
        return self.emulator.endpoint_url

    @property
    def env(self) -> dict[str, str]:
        return self.emulator.env()

    def call(self, coro_fn: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
        """Run ``coro_fn()`` on the emulator's loop and return its result (or raise)."""

        async def run() -> T:
            return await coro_fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.call(self.emulator.stop)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()

    def __enter__(self) -> EmulatorThread:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_in_thread(
    config: EmulatorConfig | None = None,
    *,
    gateway_factory: GatewayFactory | None = None,
    runtime_factory: RuntimeFactory | None = None,
    timeout: float = 120.0,
) -> EmulatorThread:
    """Start an emulator on a new thread; use the result as a context manager (or ``close()``)."""
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name="smconnect-emulator", daemon=True)
    thread.start()
    emulator = Emulator(config, gateway_factory=gateway_factory, runtime_factory=runtime_factory)
    try:
        asyncio.run_coroutine_threadsafe(emulator.start(), loop).result(timeout)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        raise
    return EmulatorThread(emulator, loop, thread)
