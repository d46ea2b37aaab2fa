"""The real OpenSSH client, with only our generated config, on both paths: the descriptor
the proxy passes to ssh (``ProxyUseFdpass yes``, the generated default) and the proxy's own
relay (``-o ProxyUseFdpass=no``, which the proxy notices by its stdout being a pipe)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from bridge.proxy_fdpass import WATCHER_NAME
from bridge.ssh.known_hosts import KnownHosts
from bridge.ssh.paths import SshPaths
from tests.support import wait_until

from .e2e_helpers import Stack

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def opened(stack: Stack) -> dict[str, Any]:
    result: dict[str, Any] = stack.call(
        "space.open", {"space": "demo", "endpoint_url": stack.emu.endpoint_url}
    )
    assert result["ssh_host"] == "sm-demo"
    assert result["folder_uri"] == "vscode-remote://ssh-remote+sm-demo/home/sagemaker-user"
    return result


@pytest.fixture(params=["fdpass", "relay"])
def path(request: pytest.FixtureRequest) -> list[str]:
    """Extra ssh options choosing the path (the generated config passes descriptors)."""
    return [] if request.param == "fdpass" else ["-o", "ProxyUseFdpass=no"]


def _client(tool: str, stack: Stack, path: list[str]) -> list[str]:
    return [tool, "-F", str(stack.ssh_config), "-o", "BatchMode=yes", *path]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _remote_sha(stack: Stack, name: str) -> str:
    done = stack.ssh("sm-demo", f"sha256sum {name}")
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[0].decode()


def test_the_generated_config_passes_descriptors(stack: Stack, opened: dict[str, Any]) -> None:
    text = SshPaths.for_home(stack.home).our_config.read_text()
    assert "    ProxyUseFdpass yes\n" in text
    assert " proxy --fdpass %n\n" in text


def test_space_open_records_the_host_key(stack: Stack, opened: dict[str, Any]) -> None:
    recorded = KnownHosts(SshPaths.for_home(stack.home).known_hosts).get("sm-demo")
    assert recorded and recorded[0].split()[1] in opened["host_key"]


def _proxies(host: str, home: Path) -> dict[int, str]:
    """Live ``smconnect proxy`` processes for ``host`` of this test's stack (its private HOME
    in their environment, so other suites running on the machine do not count): pid → comm."""
    table = subprocess.run(
        ["ps", "-ww", "-eo", "pid=,stat=,comm=,args="], capture_output=True, text=True, check=True
    )
    found = {}
    for line in table.stdout.splitlines():
        pid, stat, comm, args = line.split(None, 3)
        ours = "smconnect" in args or "proxy_start.py" in args  # the ProxyCommand's entry
        if " proxy " in args and args.endswith(f" {host}") and ours:
            if not _runs_in(int(pid), home):
                continue
            assert not stat.startswith("Z"), f"a zombie proxy: {line}"
            found[int(pid)] = comm
    return found


def _runs_in(pid: int, home: Path) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone meanwhile
        return False
    return f"HOME={home}".encode() in environ


def _relays_bytes(pid: int) -> bool:
    """Does the process hold ssh's end on stdin or stdout (the relay's data path)?"""
    return any(os.readlink(f"/proc/{pid}/fd/{fd}") != os.devnull for fd in (0, 1))


@pytest.mark.parametrize(("options", "relays"), [([], False), (["-o", "ProxyUseFdpass=no"], True)])
def test_no_proxy_process_stays_in_an_fdpass_session(
    stack: Stack, opened: dict[str, Any], options: list[str], relays: bool
) -> None:
    """With a passed descriptor the only process left is the watcher that names an abnormal
    end: off the data path (stdin and stdout on /dev/null), and gone with the session."""
    earlier = {s["id"] for s in stack.call("sessions.status")["sessions"]}
    session = subprocess.Popen(
        [*_client("ssh", stack, options), "sm-demo", "echo up; sleep 4; echo done"],
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert session.stdout is not None
        assert session.stdout.readline() == b"up\n"  # the session is live
        live = _proxies("sm-demo", stack.home)
        assert len(live) == 1
        [(pid, comm)] = live.items()
        assert _relays_bytes(pid) is relays
        if not relays:
            assert comm == WATCHER_NAME.decode()
        out, err = session.communicate(timeout=60)  # stderr's EOF: the watcher is gone too
        assert session.returncode == 0, err
        assert out == b"done\n"
        assert not err.startswith(b"smconnect:"), err  # a normal end is not named
    finally:
        session.kill()
        session.wait()

    def released() -> bool:  # the daemon lets the channel go once ssh's socket closes
        return not [s for s in stack.call("sessions.status")["sessions"] if s["id"] not in earlier]

    assert wait_until(released, timeout=15)
    assert wait_until(lambda: not _proxies("sm-demo", stack.home), timeout=10)  # no leak, no zombie


@pytest.mark.parametrize("options", [[], ["-o", "ProxyUseFdpass=no"]], ids=["fdpass", "relay"])
def test_ssh_starts_the_daemon_on_either_path(
    stack: Stack, opened: dict[str, Any], options: list[str]
) -> None:
    stack.stop_daemon()
    done = stack.ssh(*options, "sm-demo", "echo started")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"started\n"


def test_the_daemon_serves_trimmed_service_models(stack: Stack, opened: dict[str, Any]) -> None:
    """Its SageMaker and SSM clients come from bridge/aws/models.py's cache (~25 MB less)."""
    assert stack.ssh("sm-demo", "true").returncode == 0  # one ssh through the descriptor path
    log = (stack.state_dir / "daemon.log").read_text()
    assert "serving trimmed service models (sagemaker, ssm)" in log
    assert "full service models" not in log
    assert list(Path(os.environ["XDG_CACHE_HOME"], "smconnect", "models").glob("*/key"))


def test_runs_commands_with_exit_status(
    stack: Stack, opened: dict[str, Any], path: list[str]
) -> None:
    done = stack.ssh(*path, "sm-demo", 'echo hello-from-space; echo "$USER"; exit 3')
    assert done.returncode == 3, done.stderr
    assert done.stdout.decode().splitlines() == ["hello-from-space", "sagemaker-user"]


def test_relay_prints_nothing_before_the_banner(stack: Stack, opened: dict[str, Any]) -> None:
    """Unlike the plugin's "Starting session..." line, our stdout carries only the stream."""
    proc = subprocess.Popen(
        ["smconnect", "proxy", "sm-demo"],
        env=stack.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.read(12) == b"SSH-2.0-Go\r\n"
    finally:
        proc.kill()
        proc.wait()


def test_scp_16_mib_each_way(
    stack: Stack, opened: dict[str, Any], tmp_path: Path, path: list[str]
) -> None:
    local = tmp_path / "up.bin"
    local.write_bytes(os.urandom(16 * MIB))
    scp = [*_client("scp", stack, path), "-q"]
    up = subprocess.run(
        [*scp, str(local), "sm-demo:scp-up.bin"], env=stack.env, capture_output=True, timeout=300
    )
    assert up.returncode == 0, up.stderr
    assert _remote_sha(stack, "scp-up.bin") == _sha(local)

    made = stack.ssh("sm-demo", "head -c 16777216 /dev/urandom > scp-down.bin")
    assert made.returncode == 0, made.stderr
    down = tmp_path / "down.bin"
    got = subprocess.run(
        [*scp, "sm-demo:scp-down.bin", str(down)], env=stack.env, capture_output=True, timeout=300
    )
    assert got.returncode == 0, got.stderr
    assert down.stat().st_size == 16 * MIB
    assert _sha(down) == _remote_sha(stack, "scp-down.bin")


def test_sftp_16_mib_each_way(
    stack: Stack, opened: dict[str, Any], tmp_path: Path, path: list[str]
) -> None:
    local = tmp_path / "sftp-up.bin"
    local.write_bytes(os.urandom(16 * MIB))
    stack.ssh("sm-demo", "head -c 16777216 /dev/urandom > sftp-down.bin")
    batch = tmp_path / "batch"
    down = tmp_path / "sftp-down.bin"
    batch.write_text(f"put {local} sftp-up.bin\nget sftp-down.bin {down}\n")
    done = subprocess.run(
        [*_client("sftp", stack, path), "-q", "-b", str(batch), "sm-demo"],
        env=stack.env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert _remote_sha(stack, "sftp-up.bin") == _sha(local)
    assert _sha(down) == _remote_sha(stack, "sftp-down.bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_forwards_a_port_to_jupyter(stack: Stack, opened: dict[str, Any]) -> None:
    port = _free_port()
    tunnel = subprocess.Popen(
        [
            "ssh",
            "-F",
            str(stack.ssh_config),
            "-o",
            "BatchMode=yes",
            "-o",
            "ExitOnForwardFailure=yes",
            "-N",
            "-L",
            f"127.0.0.1:{port}:127.0.0.1:8888",
            "sm-demo",
        ],
        env=stack.env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/jupyterlab/default/api/status", timeout=10
                ) as response:
                    status = json.loads(response.read())
                break
            except OSError:
                assert tunnel.poll() is None, tunnel.stderr.read() if tunnel.stderr else ""
                assert time.monotonic() < deadline, "the forward never answered"
                time.sleep(0.2)
        assert "started" in status
    finally:
        tunnel.terminate()
        tunnel.wait(10)


def test_two_connections_at_once(stack: Stack, opened: dict[str, Any], path: list[str]) -> None:
    earlier = {s["id"] for s in stack.call("sessions.status")["sessions"]}
    procs = [
        subprocess.Popen(
            [
                *_client("ssh", stack, path),
                "sm-demo",
                f"sleep 4; head -c 1048576 /dev/zero | tr '\\0' '{tag}' | sha256sum",
            ],
            env=stack.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for tag in "ab"
    ]

    def both_live() -> bool:  # polled: under load two ssh start-ups can take seconds
        status = stack.call("sessions.status")
        new = [s for s in status["sessions"] if s["purpose"] == "ssh" and s["id"] not in earlier]
        return len(new) == 2

    live = wait_until(both_live, timeout=30, interval=0.2)
    outputs = [p.communicate(timeout=60) for p in procs]
    assert live
    for tag, (out, err) in zip("ab", outputs, strict=True):
        assert out.split()[0].decode() == hashlib.sha256(tag.encode() * MIB).hexdigest(), err


def test_websocket_drops_mid_copy_go_unnoticed(
    stack: Stack, opened: dict[str, Any], tmp_path: Path, path: list[str]
) -> None:
    broker = stack.emu.emulator.broker

    async def arm() -> None:
        broker.faults.drop_every_bytes = 3 * MIB
        broker.faults.max_drops = None

    async def disarm() -> tuple[int, int]:
        broker.faults.drop_every_bytes = None
        stats = [s.stats for s in broker.sessions.values()]
        return sum(s.drops_injected for s in stats), sum(s.resumes for s in stats)

    local = tmp_path / "drop.bin"
    local.write_bytes(os.urandom(16 * MIB))
    stack.emu.call(arm)
    try:
        up = subprocess.run(
            [*_client("scp", stack, path), "-q", str(local), "sm-demo:drop.bin"],
            env=stack.env,
            capture_output=True,
            timeout=300,
        )
    finally:
        drops, resumes = stack.emu.call(disarm)
    assert up.returncode == 0, up.stderr
    assert drops >= 4 and resumes >= drops
    assert _remote_sha(stack, "drop.bin") == _sha(local)


def test_app_restart_gets_a_new_host_key_without_a_host_key_error(
    stack: Stack, opened: dict[str, Any], path: list[str]
) -> None:
    """On the Code Editor space: its app restarts in milliseconds (demo's starts Jupyter)."""
    known = KnownHosts(SshPaths.for_home(stack.home).known_hosts)
    context = {"endpoint_url": stack.emu.endpoint_url}
    host = stack.call("space.open", {"space": "editor", **context})["ssh_host"]
    before = known.get(host)
    assert before  # the key space.open recorded (or the previous restart's)
    stack.call("space.stop", {"space": "editor", **context, "force": True})
    stack.call("space.start", {"space": "editor", **context})
    done = stack.ssh(*path, host, "echo after-restart")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"after-restart\n"
    after = known.get(host)
    assert after and after != before


def test_a_changed_key_on_another_host_still_fails(stack: Stack, tmp_path: Path) -> None:
    """Host-key checking stays on for the user's own hosts: our config changes only ours."""
    user_known = tmp_path / "user_known_hosts"
    port = _free_port()
    original = stack.ssh_config.read_bytes()

    async def serve_once(key: asyncssh.SSHKey) -> None:
        server = await asyncssh.listen(
            "127.0.0.1",
            port,
            server_host_keys=[key],
            authorized_client_keys=None,
            server_factory=_NoAuthServer,
        )
        await server.wait_closed()

    key_a = asyncssh.generate_private_key("ssh-ed25519")
    key_b = asyncssh.generate_private_key("ssh-ed25519")
    user_known.write_text(f"[127.0.0.1]:{port} {key_b.export_public_key().decode()}")
    stack.ssh_config.write_bytes(
        original
        + f"\nHost other-host\n    HostName 127.0.0.1\n    Port {port}\n"
        f"    UserKnownHostsFile {user_known}\n    StrictHostKeyChecking yes\n".encode()
    )
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve_once(key_a), loop)
    try:
        time.sleep(0.5)
        done = stack.ssh("other-host", "true", timeout=30)
        assert done.returncode == 255
        assert b"REMOTE HOST IDENTIFICATION HAS CHANGED" in done.stderr
    finally:
        stack.ssh_config.write_bytes(original)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


class _NoAuthServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return False


def test_ssh_to_an_unknown_space_fails_with_one_readable_line(
    stack: Stack, opened: dict[str, Any]
) -> None:
    done = stack.ssh("sm-no-such-space", "true", timeout=60)
    assert done.returncode == 255
    ours = [line for line in done.stderr.decode().splitlines() if line.startswith("smconnect:")]
    assert len(ours) == 1 and "no space named 'no-such-space'" in ours[0], done.stderr
    assert b"Traceback" not in done.stderr
    log = (stack.home / ".smconnect-state" / "proxy.log").read_text()
    assert "sm-no-such-space" in log
