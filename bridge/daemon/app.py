"""The daemon's SageMaker logic, put together: one channel pool, the services on top of it.

The daemon owns every data channel: the ProxyCommand relay, ``smconnect open`` and the VS Code
extension only ask for them. Each service (spaces, relay, forwards, Jupyter) uses the
``ChannelPool`` and ``SpacesService`` through their public API; this module only builds them
from the start-up ``DaemonSettings``, registers their methods (see docs/design/daemon-methods.md)
and ties their lifetimes to the server's.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from bridge.aws.pricing import PriceCache
from bridge.aws.session import use_trimmed_models, warm_models
from bridge.daemon import info
from bridge.daemon.forwards import ForwardService
from bridge.daemon.jupyter import JupyterService
from bridge.daemon.keepalive import KeepAliveService
from bridge.daemon.pool import ChannelPool
from bridge.daemon.relay import RelayService
from bridge.daemon.remembered import KnownArns, KnownHostKeys
from bridge.daemon.server import Connection, DaemonServer
from bridge.daemon.settings import DaemonSettings
from bridge.daemon.spaces import REMOTE_HOME, SpacesService
from bridge.daemon.transfers import TransferService
from bridge.daemon.workspace import Workspaces
from bridge.paths import RuntimeDirError, cache_dir_name, default_paths, ensure_private_dir
from bridge.ssh.paths import SshPaths

__all__ = ["setup"]

log = logging.getLogger("smconnect.daemon")


async def setup(
    server: DaemonServer,
    settings: DaemonSettings | None = None,
    *,
    ssh_paths: SshPaths | None = None,
) -> None:
    """The daemon's ``Setup`` hook: build the services and install their methods."""
    settings = settings or DaemonSettings.from_env()
    ssh_paths = ssh_paths or SshPaths.for_home()
    state = default_paths().state_dir
    pool = ChannelPool(
        settings,
        broadcast=server.broadcast,
        known_hosts=ssh_paths.known_hosts,
        host_keys=KnownHostKeys(state / "host-keys.json"),  # an earlier daemon's, per app run
    )
    prices = PriceCache(default_paths().state_dir / "prices.json")  # a day's GetProducts
    # SageMaker's and SSM's models cut to the operations we call: ~25 MB less for the daemon.
    use_trimmed_models(_models_root())
    threading.Thread(target=warm_models, name="smconnect-models", daemon=True).start()
    # ARNs an earlier daemon learnt: its first connection's StartSession goes out early too
    arns = KnownArns(state / "space-arns.json")
    workspaces = Workspaces(
        poll_interval=settings.poll_interval, price_cache=prices, known_arns=arns
    )
    spaces = SpacesService(workspaces, pool, ssh_paths=ssh_paths)
    relay = RelayService(spaces, pool, description_reuse=settings.description_reuse)
    forwards = ForwardService(spaces, pool)
    jupyter = JupyterService(spaces, pool)
    transfers = TransferService(spaces, pool)
    spaces.add_usage(forwards.using)  # what `stop` lists before ending it
    spaces.add_usage(jupyter.using)
    keepalive = KeepAliveService(
        spaces,
        pool,
        settings,
        broadcast=server.broadcast,
        prefs=default_paths().state_dir / "keep-alive.json",
        notify_space=relay.notify_space,
    )

    async def sessions_status(conn: Connection, params: None) -> dict[str, Any]:
        return {
            "sessions": [m.describe() for m in pool.channels()],
            "forwards": forwards.describe(),
            # Items the last listings left out (AWS described them invalidly), values escaped.
            "rejected": workspaces.rejected(),
            # The TLS connections kept open for the next cold channel (spare_dial.py).
            "spare_connections": pool.spare_dials.describe(),
        }

    for service in (spaces, relay, forwards, jupyter, transfers, keepalive):
        service.register(server.api)
    server.api.add("sessions.status", sessions_status)
    info.register(server.api, host_prefix=lambda: spaces.prefix, remote_home=REMOTE_HOME)
    server.fd_listener = relay.fdpass.start
    server.busy = lambda: pool.busy() or forwards.busy() or jupyter.busy() or transfers.busy()

    keepalive.start()

    async def close() -> None:
        # Users of channels first (streams closed with a reason rather than cut), the pool last.
        await keepalive.close()
        await relay.close()
        await forwards.close()
        await pool.close()

    server.on_shutdown(close)
    server.on_shutdown(jupyter.close)  # callbacks run last-registered first: Jupyter's first


def _models_root() -> Path | None:
    """Where the trimmed models are cached: the user's cache directory (``cache_dir_name``),
    which must be private, since botocore takes its endpoints and shapes from there; None
    (botocore's full data) when it cannot be."""
    try:
        return ensure_private_dir(Path(cache_dir_name())) / "models"
    except (OSError, RuntimeDirError) as exc:
        log.warning("using botocore's full service models: %s", exc)
        return None
