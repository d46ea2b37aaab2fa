"""paramiko and Fabric through ``open_channel``: commands and 4 MiB SFTP both ways."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import fabric
import paramiko

import smconnect
from bridge.testing.sandbox import Sandbox

PAYLOAD = os.urandom(4 * 1024 * 1024)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


def test_paramiko_exec_and_a_4_mib_sftp_round_trip(tmp_path: Path) -> None:
    with smconnect.open_channel("demo") as channel:
        assert channel.ssh_host == "sm-demo"
        assert channel.host_key.startswith("ssh-")
        client = paramiko.SSHClient()
        smconnect.pin_host_key(client, channel)
        client.connect(
            channel.ssh_host,
            username="sagemaker-user",
            sock=channel,
            auth_strategy=smconnect.paramiko_auth(),
        )
        with client:
            _, stdout, _ = client.exec_command("echo marker-$((6*7)) $USER")
            assert stdout.read().decode().split() == ["marker-42", "sagemaker-user"]
            assert stdout.channel.recv_exit_status() == 0

            source, back = tmp_path / "up.bin", tmp_path / "down.bin"
            source.write_bytes(PAYLOAD)
            with client.open_sftp() as sftp:
                sftp.put(str(source), "payload.bin")
                sftp.get("payload.bin", str(back))
            assert hashlib.sha256(back.read_bytes()).hexdigest() == DIGEST
            _, stdout, _ = client.exec_command("sha256sum payload.bin")
            assert stdout.read().decode().split()[0] == DIGEST


def test_paramiko_client_convenience_closes_what_it_opened() -> None:
    with smconnect.paramiko_client("demo") as client:
        _, stdout, _ = client.exec_command("echo $SAGEMAKER_SPACE_NAME")
        assert stdout.read() == b"demo\n"
        transport = client.get_transport()
        assert transport is not None and transport.is_active()
    assert not transport.is_active()


def test_fabric_run_and_put(tmp_path: Path) -> None:
    source = tmp_path / "fabric.bin"
    source.write_bytes(PAYLOAD)
    with smconnect.open_channel("demo") as channel:
        conn = fabric.Connection(
            channel.ssh_host,
            user="sagemaker-user",
            connect_kwargs={"sock": channel, "auth_strategy": smconnect.paramiko_auth()},
            config=fabric.Config(ssh_config=paramiko.SSHConfig()),
        )
        smconnect.pin_host_key(conn.client, channel)
        with conn:
            ran = conn.run("echo from-fabric $SAGEMAKER_SPACE_NAME", hide=True, in_stream=False)
            assert ran.stdout.split() == ["from-fabric", "demo"]
            conn.put(str(source), remote="fabric.bin")
            digest = conn.run("sha256sum fabric.bin", hide=True, in_stream=False).stdout.split()[0]
            assert digest == DIGEST


def _ssh_sessions(sandbox: Sandbox) -> int:
    sessions = sandbox.call("sessions.status")["sessions"]
    return sum(1 for s in sessions if s["purpose"] == "ssh" and s["state"] == "connected")


def _settles_to(sandbox: Sandbox, count: int) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _ssh_sessions(sandbox) == count:
            return True
        time.sleep(0.1)
    return False


def test_closing_ends_the_daemons_session(sandbox: Sandbox) -> None:
    assert _settles_to(sandbox, 0)  # what earlier tests opened, they closed
    before = 0
    channel = smconnect.open_channel("demo")
    assert _ssh_sessions(sandbox) == before + 1
    channel.close()  # at once, the server's banner unread: a reset, not a clean EOF
    assert _settles_to(sandbox, before)

    with smconnect.paramiko_client("demo") as client:
        client.exec_command("true")[1].channel.recv_exit_status()
        assert _ssh_sessions(sandbox) == before + 1
    assert _settles_to(sandbox, before)
