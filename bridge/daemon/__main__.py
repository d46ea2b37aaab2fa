"""``python -m bridge.daemon``: what a client spawns when no daemon answers (argv holds no secrets)."""

from __future__ import annotations

from bridge.daemon.lifecycle import main

raise SystemExit(main())
