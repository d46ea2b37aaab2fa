"""Who may talk to the daemon: the same uid, no browser, and on TCP only the token holder.

Each rule is a plain decision function so it can be tested without a second user account;
``check_handshake`` combines them for the websocket server's ``process_request`` hook.
"""

from __future__ import annotations

import hmac
import os
import socket
import struct
from collections.abc import Mapping

_UCRED = struct.Struct("3i")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;}


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process that connected ``sock``; None where the OS cannot tell us."""
    if sock.family != getattr(socket, "AF_UNIX", None):
        return None
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    if so_peercred is not None:
        _pid, uid, _gid = _UCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, so_peercred, _UCRED.size)
        )
        return int(uid)
    getpeereid = getattr(os, "getpeereid", None)  # BSD/macOS, not exposed by CPython today
    if getpeereid is not None:
        return int(getpeereid(sock.fileno())[0])
    return None


def peer_allowed(uid: int | None, own_uid: int, *, unix: bool) -> bool:
    """Same uid only (root included: root is another user here).

    An unknown uid on a unix socket is refused on Linux, where SO_PEERCRED always answers; on
    platforms that cannot say, the 0700 runtime directory is the boundary.
    """
    if uid is None:
        return not unix or not hasattr(socket, "SO_PEERCRED")
    return uid == own_uid


def token_ok(headers: Mapping[str, str], expected: str | None) -> bool:
    """``Authorization: Bearer <token>`` with a constant-time compare; no token expected → ok."""
    if expected is None:
        return True
    value = headers.get("Authorization", "")
    scheme, _, presented = value.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


def check_handshake(
    headers: Mapping[str, str],
    sock: socket.socket | None,
    *,
    own_uid: int,
    token: str | None,
) -> str | None:
    """The reason to refuse this websocket handshake with 403, or None to accept it.

    Any ``Origin`` header means a browser (they always send one), and no web page may reach
    the daemon, whatever the origin.
    """
    if "Origin" in headers:
        return "browser origins are not allowed"
    if sock is None:
        return "cannot identify the peer"
    unix = sock.family == getattr(socket, "AF_UNIX", None)
    if not peer_allowed(peer_uid(sock), own_uid, unix=unix):
        return "peer runs as another user"
    if not unix and not token_ok(headers, token):
        return "missing or wrong token"
    return None
