"""Who gets in: file modes, same-uid peers only (SO_PEERCRED), no browsers, token on TCP."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from websockets.asyncio.client import connect, unix_connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from bridge.daemon import auth
from bridge.daemon.client import DaemonClient, DaemonUnavailable
from bridge.daemon.dispatch import Api
from bridge.daemon.server import DaemonServer
from bridge.paths import DaemonPaths, RuntimeDirError, ensure_private_dir, verify_private_dir
from tests.support.other_user import OtherUser

NOBODY = 65534

# A stdlib-only websocket handshake, run by /usr/bin/python3 as another user (the venv's python
# lives under /root, which that user cannot read).
HANDSHAKE = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect failed", e.errno); sys.exit(0)
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
print(s.recv(200).split(b"\r\n")[0].decode())
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


async def test_socket_and_directory_modes(served: DaemonServer, daemon_paths: DaemonPaths) -> None:
    assert mode(daemon_paths.runtime_dir) == 0o700
    assert stat.S_ISSOCK(os.lstat(daemon_paths.socket).st_mode)
    assert mode(daemon_paths.socket) == 0o600


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost"])
async def test_any_origin_is_refused_on_the_unix_socket(
    served: DaemonServer, daemon_paths: DaemonPaths, origin: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with unix_connect(
            str(daemon_paths.socket), uri="ws://localhost/", origin=Origin(origin)
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_tcp_fallback_requires_the_token() -> None:
    server = DaemonServer(Api(), token="s3cr3t-token-value")
    port = await server.start_tcp()
    url = f"ws://127.0.0.1:{port}/"
    try:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Basic s3cr3t-token-value"},
        ):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, additional_headers=headers, proxy=None):
                    pass
            assert refused.value.response.status_code == 403
        good = {"Authorization": "Bearer s3cr3t-token-value"}
        with pytest.raises(InvalidStatus) as browser:
            async with connect(
                url, additional_headers=good, origin=Origin("http://127.0.0.1"), proxy=None
            ):
                pass
        assert browser.value.response.status_code == 403
        async with connect(url, additional_headers=good, proxy=None) as ws:
            await ws.send('{"jsonrpc":"2.0","method":"daemon.status","id":1}')
            assert '"transport":"tcp"' in str(await ws.recv())
    finally:
        await server.close()


def test_peer_decision() -> None:
    assert auth.peer_allowed(1000, 1000, unix=True)
    assert not auth.peer_allowed(NOBODY, 1000, unix=True)
    assert not auth.peer_allowed(0, 1000, unix=True)  # root is another user too
    assert not auth.peer_allowed(None, 1000, unix=True)  # Linux always knows: unknown = refuse
    assert auth.peer_allowed(None, 1000, unix=False)  # TCP: the token decides


def test_peer_uid_of_a_real_unix_socket() -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert auth.peer_uid(a) == os.getuid()
        assert auth.check_handshake({}, a, own_uid=os.getuid(), token=None) is None
        assert (
            auth.check_handshake({}, a, own_uid=os.getuid() + 1, token=None)
            == "peer runs as another user"
        )
        assert auth.check_handshake({"Origin": "x"}, a, own_uid=os.getuid(), token=None) is not None
    assert (
        auth.check_handshake({}, None, own_uid=os.getuid(), token=None)
        == "cannot identify the peer"
    )


async def test_another_uid_is_refused_for_real(
    served: DaemonServer, daemon_paths: DaemonPaths, other_user: OtherUser
) -> None:
    def as_nobody() -> str:
        out = subprocess.run(
            other_user.argv("/usr/bin/python3", "-c", HANDSHAKE, str(daemon_paths.socket)),
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return out.stdout.strip()

    import asyncio

    # The normal layout: the 0700 directory alone keeps the other user out.
    assert await asyncio.to_thread(as_nobody) == "connect failed 13"
    # Loosen every file mode: SO_PEERCRED at the handshake still refuses the other uid.
    for p in (daemon_paths.runtime_dir.parent, daemon_paths.runtime_dir):
        os.chmod(p, 0o711)
    os.chmod(daemon_paths.socket, 0o666)
    assert await asyncio.to_thread(as_nobody) == "HTTP/1.1 403 Forbidden"


def test_private_dir_checks() -> None:
    root = Path(tempfile.mkdtemp(prefix="smd-"))
    try:
        made = ensure_private_dir(root / "a" / "b")
        assert mode(made) == 0o700
        os.chmod(made, 0o755)
        with pytest.raises(RuntimeDirError, match="accessible to other users"):
            verify_private_dir(made)
        assert mode(ensure_private_dir(made)) == 0o700  # ours: tightened, not refused
        (root / "link").symlink_to(made)
        for check in (ensure_private_dir, verify_private_dir):
            with pytest.raises(RuntimeDirError, match="symlink"):
                check(root / "link")
        if os.getuid() == 0:
            os.chown(made, NOBODY, NOBODY)
            for check in (ensure_private_dir, verify_private_dir):
                with pytest.raises(RuntimeDirError, match="owned by uid"):
                    check(made)
    finally:
        shutil.rmtree(root)


async def test_client_refuses_a_symlinked_runtime_dir(daemon_paths: DaemonPaths) -> None:
    real = ensure_private_dir(daemon_paths.runtime_dir.with_name("real"))
    daemon_paths.runtime_dir.symlink_to(real)
    with pytest.raises(DaemonUnavailable, match="symlink"):
        await DaemonClient.open(paths=daemon_paths)
