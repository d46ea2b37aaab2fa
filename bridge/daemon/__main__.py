"""``python -m bridge.daemon``: what a client spawns when no daemon answers (argv holds no secrets)."""

from __future__ import annotations

from bridge.daemon.lifecycle import main
from bridge.daemon.service import setup

raise SystemExit(main(setup))
