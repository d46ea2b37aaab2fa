"""``python -m bridge.daemon``: what a client spawns when no daemon answers (argv holds no secrets)."""

from __future__ import annotations

from bridge.daemon.lifecycle import main
from bridge.daemon.server import DaemonServer
from bridge.daemon.settings import DaemonSettings


async def _setup(server: DaemonServer, settings: DaemonSettings) -> None:
    # Imported only once we hold the lock: a daemon that loses the race exits before paying
    # for boto3 and the rest of the SageMaker service.
    from bridge.daemon.app import setup
    from bridge.daemon.workspace import adopt_daemon_environment

    adopt_daemon_environment()  # callers send their identity; ours is only a raw client's default
    await setup(server, settings)


raise SystemExit(main(_setup))
