"""Which local user is on the other end of a loopback TCP connection.

A forwarded port listens on TCP, which every local account can reach; the space's Jupyter behind
it has no token. On Linux the kernel tells who owns each socket (``/proc/net/tcp`` and
``tcp6``: the ``uid`` column), so a forward can refuse connections from other users. Elsewhere
the owner cannot be learnt: ``peer_uid`` answers ``None`` and the caller says so (and offers a
unix socket instead). See docs/security.md.

The connecting socket's entry has our listening address as its remote end and the peer's
address as its local end; that entry's uid is the connecting user.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

__all__ = ["can_tell_peer_uid", "peer_uid"]

_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


def can_tell_peer_uid() -> bool:
    """Whether this OS lets us learn a TCP peer's uid (Linux with /proc)."""
    return sys.platform.startswith("linux") and _TABLES[0].exists()


def peer_uid(
    peer: tuple[str, int], listener: tuple[str, int], *, tables: tuple[Path, ...] = _TABLES
) -> int | None:
    """The uid owning the socket at ``peer`` that is connected to ``listener``; None if unknown.

    Both are (host, port) as the accepting side sees them (IPv4, IPv6 or IPv4-mapped IPv6);
    ``listener`` may be a wildcard address.
    """
    want_local = _normal(peer)
    want_remote = _normal(listener)
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 8:
                continue
            try:
                local = _decode(fields[1])
                remote = _decode(fields[2])
            except ValueError:
                continue
            if local == want_local and _same_end(remote, want_remote):
                return int(fields[7])
    return None


def _same_end(
    seen: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int],
    listener: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int],
) -> bool:
    """A listener on a wildcard address (``0.0.0.0``, ``::``) is reached at any of ours."""
    if seen[1] != listener[1]:
        return False
    return listener[0].is_unspecified or seen[0] == listener[0]


def _normal(address: tuple[str, int]) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    """One spelling per address: IPv4-mapped IPv6 (``::ffff:127.0.0.1``) becomes IPv4."""
    ip = ipaddress.ip_address(address[0].split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip, int(address[1])


def _decode(field: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    """``0100007F:1F90`` (IPv4) or 32 hex digits (IPv6), each 32-bit word in host byte order."""
    hex_ip, _, hex_port = field.partition(":")
    raw = bytes.fromhex(hex_ip)
    if len(raw) not in (4, 16):
        raise ValueError(field)
    # The kernel prints each 32-bit word as a native-endian integer.
    words = [raw[i : i + 4] for i in range(0, len(raw), 4)]
    packed = b"".join(int.from_bytes(w, "big").to_bytes(4, sys.byteorder) for w in words)
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    ip = ipaddress.IPv4Address(packed) if len(raw) == 4 else ipaddress.IPv6Address(packed)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip, int(hex_port, 16)
