"""Who is on the other end of a loopback TCP connection (Linux: /proc/net/tcp{,6})."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from bridge.daemon.tcp_peer import can_tell_peer_uid, peer_uid
from tests.support.other_user import OtherUser

pytestmark = pytest.mark.skipif(not can_tell_peer_uid(), reason="Linux /proc only")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_connection_of_our_own_is_ours(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with (
        socket.create_server((host, 0), family=family) as server,
        socket.create_connection(server.getsockname()[:2]) as client,
    ):
        conn, addr = server.accept()
        with conn:
            assert peer_uid(addr[:2], server.getsockname()[:2]) == os.getuid()
            assert client.getsockname()[:2] == addr[:2]


def test_a_dual_stack_listener_sees_ipv4_peers_as_mapped() -> None:
    with socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            conn, addr = server.accept()
            with conn:
                assert addr[0] == "::ffff:127.0.0.1"
                assert peer_uid(addr[:2], server.getsockname()[:2]) == os.getuid()


def test_an_unknown_connection_has_no_owner() -> None:
    assert peer_uid(("127.0.0.1", 1), ("127.0.0.1", 2)) is None


def test_another_users_connection_is_theirs(other_user: OtherUser) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        script = (
            "import socket, sys\n"
            f"s = socket.create_connection(('127.0.0.1', {port}))\n"
            "sys.stdout.write('connected\\n'); sys.stdout.flush()\n"
            "sys.stdin.read()\n"
        )
        proc = subprocess.Popen(
            other_user.argv(sys.executable, "-c", script),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"connected\n"
            conn, addr = server.accept()
            with conn:
                assert peer_uid(addr[:2], server.getsockname()[:2]) == other_user.uid
        finally:
            proc.kill()
            proc.wait()
