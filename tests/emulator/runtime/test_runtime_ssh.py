"""The SSH server, driven by a real asyncssh client on the runtime's socket."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from pathlib import Path

import asyncssh
import pytest

from bridge.emulator.runtime import SpaceRuntime

from .runtime_helpers import ssh_connect

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_banner_is_exactly_go(jupyterlab: SpaceRuntime) -> None:
    path = jupyterlab.resolve("127.0.0.1", 22)
    assert isinstance(path, str)
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        banner = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    assert banner == b"SSH-2.0-Go\r\n"


async def test_login_without_credentials_lands_in_home(jupyterlab: SpaceRuntime) -> None:
    async with await ssh_connect(jupyterlab, username="whoever") as conn:
        key = conn.get_server_host_key()
        assert key.get_fingerprint("sha256") == jupyterlab.host_key_fingerprint
        assert key.export_public_key("openssh").decode().strip() == jupyterlab.host_public_key
        result = await conn.run(
            'echo "$HOME"; pwd; echo "$USER $LOGNAME $SHELL"; echo "$LC_X-$OTHER"',
            env={"LC_X": "kept", "OTHER": "dropped"},  # OpenSSH's default AcceptEnv
            check=True,
        )
    home = str(jupyterlab.home)
    assert result.stdout == f"{home}\n{home}\nsagemaker-user sagemaker-user /bin/bash\nkept-\n"
    assert jupyterlab.home == Path(jupyterlab.root, "home", "sagemaker-user")


async def test_exit_status_and_stderr_are_propagated(jupyterlab: SpaceRuntime) -> None:
    async with await ssh_connect(jupyterlab) as conn:
        result = await conn.run("echo out; echo err >&2; exit 3")
        killed = await conn.run("kill -TERM $$")
    assert (result.exit_status, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert killed.exit_signal is not None and killed.exit_signal[0] == "TERM"


async def test_stdin_reaches_the_command(jupyterlab: SpaceRuntime) -> None:
    async with await ssh_connect(jupyterlab) as conn:
        result = await conn.run("wc -c", input="x" * 100_000)
    assert result.stdout.strip() == "100000"


async def test_pty_command_sees_requested_size(jupyterlab: SpaceRuntime) -> None:
    async with await ssh_connect(jupyterlab) as conn:
        result = await conn.run("stty size; tty", term_type="xterm", term_size=(132, 41))
    size, tty = result.stdout.splitlines()
    assert size == "41 132"
    assert tty.startswith("/dev/")
    assert result.exit_status == 0


async def test_interactive_shell_resizes_and_exits(jupyterlab: SpaceRuntime) -> None:
    async with await ssh_connect(jupyterlab) as conn:
        proc = await conn.create_process(term_type="xterm", term_size=(80, 24))
        proc.change_terminal_size(100, 30)
        proc.stdin.write('stty size; echo __do""ne__\n')  # the echoed line must not match
        output = ""
        while "__done__\r\n" not in output:
            output += await asyncio.wait_for(proc.stdout.read(4096), 10)
        proc.stdin.write("exit 7\n")
        await asyncio.wait_for(proc.wait_closed(), 10)
    assert "30 100\r\n" in output
    assert proc.exit_status == 7


async def test_large_output_arrives_complete_through_a_small_window(
    jupyterlab: SpaceRuntime,
) -> None:
    size = 8 * 1024 * 1024
    expected = hashlib.sha256((b"0123456789abcdef\n" * (size // 17 + 1))[:size]).hexdigest()
    async with await ssh_connect(jupyterlab, window=32768, max_pktsize=8192) as conn:
        result = await conn.run(f"yes 0123456789abcdef | head -c {size}", encoding=None)
    assert result.exit_status == 0
    assert len(result.stdout) == size
    assert hashlib.sha256(result.stdout).hexdigest() == expected


async def test_sftp_put_get_round_trip(jupyterlab: SpaceRuntime, tmp_path: Path) -> None:
    payload = os.urandom(1024 * 1024)
    local = tmp_path / "up.bin"
    local.write_bytes(payload)
    back = tmp_path / "back.bin"
    async with await ssh_connect(jupyterlab) as conn, conn.start_sftp_client() as sftp:
        assert await sftp.realpath(".") == str(jupyterlab.home)
        await sftp.put(str(local), "up.bin")
        await sftp.get("up.bin", str(back))
    digest = hashlib.sha256(payload).hexdigest()
    assert hashlib.sha256((jupyterlab.home / "up.bin").read_bytes()).hexdigest() == digest
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest


async def test_forward_to_a_closed_port_is_refused(jupyterlab: SpaceRuntime) -> None:
    async with await ssh_connect(jupyterlab) as conn:
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.open_connection("127.0.0.1", 9)


async def test_openssh_client_exec_and_scp(jupyterlab: SpaceRuntime, tmp_path: Path) -> None:
    """The real ssh/scp binaries accept the server as SageMaker's: banner, no auth, sftp."""
    path = jupyterlab.resolve("localhost", 22)
    proxy = f"{sys.executable} {Path(__file__).with_name('unix_proxy.py')} {path}"
    options = ["-F", "/dev/null", "-o", f"ProxyCommand={proxy}", "-o", "BatchMode=yes"]
    options += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    options += ["-o", "LogLevel=ERROR"]
    ssh = await asyncio.create_subprocess_exec(
        "ssh",
        *options,
        "sagemaker-user@space",
        "echo $USER@$PWD; exit 4",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(ssh.communicate(), 30)
    assert (ssh.returncode, out.decode()) == (4, f"sagemaker-user@{jupyterlab.home}\n")

    local = tmp_path / "via-scp.bin"
    local.write_bytes(os.urandom(200_000))
    scp = await asyncio.create_subprocess_exec(
        "scp", *options, str(local), "sagemaker-user@space:via-scp.bin"
    )
    assert await asyncio.wait_for(scp.wait(), 30) == 0
    assert (jupyterlab.home / "via-scp.bin").read_bytes() == local.read_bytes()
