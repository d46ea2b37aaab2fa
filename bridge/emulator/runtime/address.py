"""Where a port inside the space really listens, as the agent side and the SSH server see it."""

from __future__ import annotations

import ipaddress

#: A TCP ``(host, port)`` pair, or the path of a unix socket.
Address = tuple[str, int] | str

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for the names a process inside the space uses to reach the space itself.

    ``0.0.0.0`` counts: on Linux a connect to it reaches the local host, and tools use it.
    """
    name = host.strip().lower().strip("[]")
    if not name or name in _LOOPBACK_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified
