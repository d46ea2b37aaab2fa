"""``python -m bridge.daemon``: what a client spawns when no daemon answers (argv holds no secrets)."""

from __future__ import annotations

from bridge.daemon.lifecycle import main
from bridge.daemon.server import DaemonServer


async def _setup(server: DaemonServer) -> None:
    # Imported only once we hold the lock: a daemon that loses the race exits before paying
    # for boto3 and the rest of the SageMaker service.
    from bridge.daemon.service import setup

    await setup(server)


raise SystemExit(main(_setup))
