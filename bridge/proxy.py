"""``smconnect proxy <host>``: the ssh ProxyCommand relay (imports nothing heavy)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    print("smconnect proxy: the daemon is not built yet", file=sys.stderr)
    return 2
