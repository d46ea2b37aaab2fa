"""The control plane's state and behaviour over time: resources, fault switches, the app
lifecycle (timers that move apps Pending -> InService and Deleting -> Deleted, starting and
stopping space runtimes) and the sessions handed out through the broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.emulator.config import DelaysConfig, EmulatorConfig
from bridge.emulator.control.hostile import add_hostile
from bridge.emulator.control.idle import watch_idle
from bridge.emulator.control.issuer import Issuer
from bridge.emulator.control.ports import RuntimeFactory, SessionGateway, SessionUnknown
from bridge.emulator.control.state import Account, App, Space

log = logging.getLogger(__name__)

FAULT_FAILURE_REASON = "The app failed to start: emulated fault (faults.fail_app_start)."


@dataclass
class ControlFaults:
    """Switches a test (or a config file) turns on; read at the moment they apply."""

    fail_app_start: set[str] = field(default_factory=set)  # space names
    start_session_failures: int = 0  # the next N StartSession calls answer InternalFailure
    deny_pricing: bool = False  # pricing:GetProducts answers AccessDeniedException


@dataclass
class SessionRecord:
    session_id: str
    stream_url: str
    app: App


class ControlPlane:
    def __init__(
        self,
        config: EmulatorConfig,
        gateway: SessionGateway,
        runtime_factory: RuntimeFactory,
        root: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock  # epoch seconds: activity and idle shutdown (a test may replace it)
        self.account = Account(config)
        if config.hostile:
            add_hostile(self.account, time.time() - 60.0)
        self.credentials = {c.access_key_id: c for c in config.credentials}
        self.issuer = Issuer(config, self.credentials)  # sso-oidc, sso, sts: what it issues
        self.delays: DelaysConfig = config.delays  # replace it to retime what comes next
        self.faults = ControlFaults(
            set(config.faults.fail_app_start),
            config.faults.start_session_failures,
            config.faults.deny_pricing,
        )
        self.gateway = gateway
        self.sessions: dict[str, SessionRecord] = {}
        self._runtime_factory = runtime_factory
        self._root = root
        self._tasks: set[asyncio.Task[None]] = set()

    def approve_device(self, user_code: str) -> None:
        """Play the user who approves an SSO sign-in in the browser (``KeyError``: no such code)."""
        self.issuer.approve_device(user_code)

    # -- app lifecycle -------------------------------------------------------------------

    def new_app(self, space: Space, app_name: str, instance_type: str) -> App:
        app = App(
            domain_id=space.domain_id,
            space_name=space.name,
            app_type=space.app_type,
            app_name=app_name,
            arn=self.account.app_arn(space.domain_id, space.name, space.app_type, app_name),
            created=time.time(),
            instance_type=instance_type,
            remote_access=space.remote_access,
        )
        self.account.apps[(space.domain_id, space.name, space.app_type, app_name)] = app
        return app

    def launch(self, app: App) -> None:
        """Pending now; InService (runtime running) or Failed after the start delay."""
        app.status = "Pending"
        app.task = self._spawn(self._start_app(app, self.delays.app_start))

    def retire(self, app: App) -> None:
        """Deleting now; Deleted (runtime stopped, its sessions ended) after the stop delay."""
        app.status = "Deleting"
        app.task = self._spawn(self._stop_app(app, self.delays.app_stop))

    async def seed_running_apps(self) -> None:
        """Spaces configured with ``app_running`` start InService, outside any failure window."""
        for domain, space_cfg in (
            (d, s) for d in self.config.domains for s in d.spaces if s.app_running
        ):
            space = self.account.domains[domain.id].spaces[space_cfg.name]
            app = self.new_app(space, "default", space.instance_type)
            await self._start_app(app, 0.0)
            if app.in_service_since is not None:
                app.in_service_since -= self.delays.start_session_failure_window

    def live_sessions(self, app: App) -> int:
        """Sessions counting against the space's limit; ended ones are forgotten here."""
        app.sessions = {s for s in app.sessions if self.gateway.active(s)}
        return len(app.sessions)

    def update_space(self, space: Space) -> None:
        delay = self.delays.space_update
        if delay <= 0:
            return
        space.status = "Updating"

        async def settle() -> None:
            await asyncio.sleep(delay)
            space.status = "InService"

        self._spawn(settle())

    async def shutdown(self) -> None:
        """Cancel pending transitions, then stop every runtime still running."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        running = [a for a in self.account.apps.values() if a.runtime is not None]
        await asyncio.gather(*(self._stop_runtime(a) for a in running))

    # -- internals -----------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _start_app(self, app: App, delay: float) -> None:
        await asyncio.sleep(delay)
        if app.space_name in self.faults.fail_app_start:
            app.status, app.failure_reason = "Failed", FAULT_FAILURE_REASON
            return
        # One root per space, kept across app restarts: the space's storage outlives its apps.
        root = self._root / f"{app.domain_id}-{app.space_name}-space"
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        runtime = self._runtime_factory(app.space_name, app.app_type, root)
        try:
            await runtime.start()
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await runtime.stop()
            raise
        except Exception as exc:
            log.exception("space runtime for %s failed to start", app.space_name)
            with contextlib.suppress(Exception):
                await runtime.stop()
            app.status, app.failure_reason = "Failed", f"The app failed to start: {exc}"
            return
        app.runtime = runtime
        app.status = "InService"
        app.in_service_since = asyncio.get_running_loop().time()
        app.last_activity = self.clock()
        log.info("app %s InService", app.arn)
        space = self.account.domains[app.domain_id].spaces[app.space_name]
        self._spawn(watch_idle(self, app, space))

    async def _stop_app(self, app: App, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._stop_runtime(app)
        app.status = "Deleted"
        log.info("app %s Deleted", app.arn)

    async def _stop_runtime(self, app: App) -> None:
        for session_id in list(app.sessions):
            with contextlib.suppress(SessionUnknown):
                self.gateway.terminate(session_id)
        app.sessions.clear()
        runtime, app.runtime = app.runtime, None
        if runtime is not None:
            try:
                await runtime.stop()
            except Exception:
                log.exception("space runtime for %s failed to stop cleanly", app.space_name)
