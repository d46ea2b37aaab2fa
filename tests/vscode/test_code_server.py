"""The extension in a real VS Code (code-server), driven through Chromium like a user would.

Real parts only: the emulator, the daemon the extension starts through the real `smconnect`
CLI, code-server with the built .vsix installed, and OpenSSH through the config the daemon
wrote. code-server has no Remote-SSH, so the extension's test hook (SMCONNECT_VSCODE_OPEN_LOG)
records the folder URI it would open; ssh to that host proves the URI leads somewhere.

One code-server session (starting one costs ~8 s) plays a user's story through the command
palette and the Explorer: connect to `demo`, attach a notebook kernel, upload a file from the
Explorer's context menu and download it back into a folder, stop the space, then run a command
with a broken `smconnect.path`. The driver (vscode-extension/e2e/connect.mjs) reports what it saw as
JSON; the assertions are here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.emulator import start_in_thread
from bridge.emulator.config import default_config
from bridge.testing.sandbox import VENV_BIN, Sandbox

from .vscode_helpers import ROOT, Tools

ARTIFACTS = ROOT / "test-artifacts"
UPLOAD_FILE = "explorer upload.bin"  # a space in the name, as users' files have
DOWNLOAD_FOLDER = "downloads"
USER_SETTINGS = {
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "workbench.enableExperiments": False,
    "update.mode": "none",
}


def _first_word(row: str) -> str:
    """A row's aria-label is "<icon name> <space>, <description>, <detail>"."""
    found = re.match(r"(?:vm-[\w-]+\s+)?([^,\s]+)", row)
    return found.group(1) if found else row


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"code-server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"code-server did not answer {url} within {timeout:.0f} s")


def _stop_group(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """code-server (extension host, watchers) and the driver (Chromium) have children: end
    the whole group."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers that outlived the leader


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with start_in_thread(default_config()) as emulator:
        box = Sandbox.create(
            tmp_path / "home",
            emulator.env,
            extra={
                "SMCONNECT_POLL_INTERVAL": "0.2",
                "SMCONNECT_CHANNEL_RATE": "unlimited",
                "SMCONNECT_DAEMON_IDLE_TIMEOUT": "120",
                "SMCONNECT_VSCODE_OPEN_LOG": str(tmp_path / "opened.jsonl"),
            },
        )
        try:
            yield box
        finally:
            box.stop_daemon()


@pytest.fixture
def code_server(tools: Tools, sandbox: Sandbox, tmp_path: Path) -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    user_data, extensions = tmp_path / "user-data", tmp_path / "extensions"
    for scope in ("User", "Machine"):
        (user_data / scope).mkdir(parents=True)
    (user_data / "User" / "settings.json").write_text(json.dumps(USER_SETTINGS))
    # The server's extension host takes PATH from a login shell (/etc/profile), which drops the
    # venv; users in the same spot set smconnect.path (machine-scoped, so in Machine settings
    # where the extension host is the server's).
    machine = {"smconnect.path": str(VENV_BIN / "smconnect")}
    (user_data / "Machine" / "settings.json").write_text(json.dumps(machine))
    base = [str(tools.node), str(tools.code_server)]
    dirs = ["--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]
    installed = subprocess.run(
        [
            *base,
            *dirs,
            "--install-extension",
            str(tools.vsix),
            "--install-extension",
            str(tools.remote_ssh_stub),
        ],
        env=sandbox.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    names = {p.name.rsplit("-", 1)[0] for p in extensions.iterdir() if p.is_dir()}
    assert {"smconnect.smconnect", "ms-vscode-remote.remote-ssh"} <= names, names

    port = _free_port()
    log = (tmp_path / "code-server.log").open("wb")
    proc = subprocess.Popen(
        [
            *base,
            *dirs,
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--auth",
            "none",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            str(sandbox.home),
        ],
        env=sandbox.env,
        cwd=sandbox.home,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", proc, timeout=120)
        yield f"http://127.0.0.1:{port}/"
    finally:
        _stop_group(proc)
        log.close()
        shutil.copy(tmp_path / "code-server.log", ARTIFACTS / "code-server.log")


@pytest.mark.long
def test_connect_from_command_palette(
    tools: Tools, sandbox: Sandbox, code_server: str, tmp_path: Path
) -> None:
    # What the Explorer transfers move: a file up into the space's home, then back down.
    payload = hashlib.sha256(b"explorer").digest() * (1024 * 1024 // 32)  # 1 MiB
    (sandbox.home / UPLOAD_FILE).write_bytes(payload)
    (sandbox.home / DOWNLOAD_FOLDER).mkdir()
    # The driver and its Chromium run in their own process group, ended whatever happens.
    driver = subprocess.Popen(
        [str(tools.node), str(tools.e2e_script)],
        env={
            **sandbox.env,
            "CODE_SERVER_URL": code_server,
            "CHROMIUM": str(tools.chromium),
            "ARTIFACTS": str(ARTIFACTS),
            "OPEN_LOG": sandbox.env["SMCONNECT_VSCODE_OPEN_LOG"],
            "SPACE": "demo",
            "UPLOAD_FILE": UPLOAD_FILE,
            "DOWNLOAD_FOLDER": DOWNLOAD_FOLDER,
            "MACHINE_SETTINGS": str(tmp_path / "user-data" / "Machine" / "settings.json"),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = driver.communicate(timeout=280)
    finally:
        _stop_group(driver)
    driven = subprocess.CompletedProcess(driver.args, driver.returncode, stdout, stderr)
    lines = driven.stdout.strip().splitlines()
    assert lines, f"the driver printed nothing\n{driven.stderr}"
    seen = json.loads(lines[-1])
    assert driven.returncode == 0, f"{seen.get('error')}\n{driven.stderr}"

    # The QuickPick listed the emulator's spaces with their details; the screenshot is kept.
    assert seen["title"] == "SageMaker: Connect to SageMaker"
    rows = {_first_word(row): row for row in seen["quickpick"]}
    assert set(rows) == {"demo", "editor", "locked"}, seen["quickpick"]
    for part in ("stopped", "smconnect-demo (d-emulator00001)", "JupyterLab", "ml.t3.large"):
        assert part in rows["demo"], rows["demo"]
    assert "CodeEditor" in rows["editor"]
    assert "remote access off" in rows["locked"]
    assert (ARTIFACTS / "quickpick.png").stat().st_size > 10_000

    # A cancellable progress notification told the story while the app started.
    assert seen["progress"][0].startswith("SageMaker: opening demo"), seen["progress"]
    assert seen["cancellable"] is True
    assert seen["statusDuringOpen"] == "SageMaker: opening demo"  # the status bar item
    # … with the daemon's own progress messages after ours.
    assert len(set(seen["progress"])) >= 2, seen["progress"]

    # The extension handed over the Remote-SSH folder of the space …
    assert seen["uri"] == "vscode-remote://ssh-remote+sm-demo/home/sagemaker-user"
    # "Attach Notebook Kernel…" opened the space's Jupyter forward and showed the daemon's URL.
    found = re.search(r"Jupyter on demo is at (http://127\.0\.0\.1:\d+/\S+/)", seen["kernel"])
    assert found, seen["kernel"]
    servers = sandbox.call("jupyter.list", autostart=False)["servers"]
    server = next(s for s in servers if s["space"] == "demo")
    assert server["url"] == found.group(1)
    assert re.fullmatch(r"demo \d+ ms", seen["statusConnected"]), seen["statusConnected"]

    # The Explorer's "Upload to SageMaker space…" copied the file into the space's home, and
    # "Download from SageMaker space…" on a folder brought it back: the same bytes each way.
    moved = r"1 file, 1\.0 MiB in [0-9.]+ s over [0-9]+ lanes"
    assert re.fullmatch(rf"SageMaker: uploading to demo: done \({moved}\)\.", seen["upload"])
    assert re.fullmatch(rf"SageMaker: downloading from demo: done \({moved}\)\.", seen["download"])
    remote = sandbox.ssh("sm-demo", f"sha256sum {shlex.quote(UPLOAD_FILE)}")
    assert remote.returncode == 0, remote.stderr.decode()
    assert remote.stdout.decode().split()[0] == hashlib.sha256(payload).hexdigest()
    assert (sandbox.home / DOWNLOAD_FOLDER / UPLOAD_FILE).read_bytes() == payload

    # "Stop Space" offered only the running space; the message is built from the daemon's
    # answer (the space's app status after space.stop).
    assert [_first_word(row) for row in seen["stopChoices"]] == ["demo"], seen["stopChoices"]
    # The Jupyter forward was open on it: the extension asked before stopping it anyway.
    assert "Stopping demo ends what is open on it" in seen["stopQuestion"], seen["stopQuestion"]
    assert seen["stopped"] == "SageMaker: demo is stopped."

    # Cancel on a second connect stopped it: still only the first folder was opened.
    assert seen["opensAfterCancel"] == 1

    # With smconnect.path pointing nowhere, the error says so and opens the install steps.
    assert seen["missing"] == (
        "smconnect was not found at /nonexistent/smconnect (the smconnect.path setting)"
    )
    assert seen["missingActions"] == ["Install Instructions", "Open Settings"]
    assert seen["instructionsTab"] == "Preview README.md"  # the README shipped in the .vsix

    # Remote-SSH's per-host settings were written to the user's settings.
    user_settings = json.loads((tmp_path / "user-data" / "User" / "settings.json").read_text())
    assert user_settings["remote.SSH.connectTimeout"] == 180
    assert user_settings["remote.SSH.serverInstallPath"] == {"sm-demo": "/home/sagemaker-user"}
    assert user_settings["remote.SSH.remotePlatform"] == {"sm-demo": "linux"}

    # The extension started the daemon itself, through the CLI, and logged what it opened.
    log = next(
        (tmp_path / "user-data" / "logs").glob("*/exthost*/smconnect.smconnect/SageMaker.log")
    )
    text = log.read_text()
    assert f"starting the daemon: {VENV_BIN / 'smconnect'} daemon start" in text
    assert "opening vscode-remote://ssh-remote+sm-demo/home/sagemaker-user" in text

    # The host of the URI works through the ssh config the daemon wrote.
    done = sandbox.ssh("sm-demo", 'echo "$USER"; true')
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "sagemaker-user"

    # Long after the cancelled connect would have finished, it still opened nothing.
    opened = Path(sandbox.env["SMCONNECT_VSCODE_OPEN_LOG"]).read_text().splitlines()
    assert [json.loads(line)["uri"] for line in opened] == [seen["uri"]]

    # The URL outlives the stop: with the space running again, it serves the kernelspecs.
    request = urllib.request.Request(
        server["url"] + "api/kernelspecs", headers={"Authorization": f"token {server['token']}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert "python3" in json.load(answer)["kernelspecs"]
