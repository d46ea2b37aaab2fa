"""``smconnect open editor --shell --yes`` on a real terminal (a pty), across an app restart
(the Code Editor space: its app restarts in milliseconds, no Jupyter server to wait for)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import boto3

from .e2e_helpers import Stack


def _shell_session(stack: Stack, commands: list[str], timeout: float = 120) -> str:
    """Run ``smconnect open editor --shell --yes`` with a pty as its terminal; type
    ``commands``."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        ["smconnect", "open", "editor", "--shell", "--yes"],
        env={**stack.env, "TERM": "xterm"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    output = b""
    since_last_command = 0  # where the output produced after the last command starts
    deadline = time.monotonic() + timeout
    pending = list(commands)
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal has gone
                    break
                output += chunk
            tail = output[since_last_command:].rstrip(b" ")
            if pending and tail.endswith((b"$", b"#")):  # the shell waits at its prompt
                os.write(master, pending.pop(0).encode() + b"\r")
                since_last_command = len(output) + 1
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert proc.returncode == 0, output.decode(errors="replace")
    return output.decode(errors="replace")


def test_open_shell_on_a_terminal_then_again_after_the_app_restarted(stack: Stack) -> None:
    first = _shell_session(stack, ["echo marker-$((6*7)); tty", "exit"])
    assert "marker-42" in first
    assert "/dev/pts/" in first

    # Restart the app behind smconnect's back, as the Studio UI would: a new host key.
    sagemaker = boto3.Session(
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
        region_name=stack.env["AWS_DEFAULT_REGION"],
    ).client("sagemaker", endpoint_url=stack.emu.endpoint_url)
    domain = "d-emulator00001"
    app = {"DomainId": domain, "SpaceName": "editor", "AppType": "CodeEditor", "AppName": "default"}
    sagemaker.delete_app(**app)
    deadline = time.monotonic() + 60
    while sagemaker.describe_app(**app)["Status"] != "Deleted":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    second = _shell_session(stack, ["echo again-$((6*7))", "exit"])
    assert "again-42" in second
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" not in second
    assert "Host key verification failed" not in second
