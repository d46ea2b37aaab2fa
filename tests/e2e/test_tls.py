"""The production TLS path end to end: the emulator serving HTTPS and ``wss://`` as the service
does (``tls``), real OpenSSH through smconnect, trust given only through the environment the
emulator prints (SSL_CERT_FILE, AWS_CA_BUNDLE); and a client without that trust."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.emulator.config import default_config
from bridge.testing.sandbox import FAST_DAEMON, Sandbox

from .e2e_helpers import FAST_DELAYS, Stack, running_stack

MIB = 1024 * 1024
_PROGRESS = re.compile(r"smconnect: \[\s*\d+s\] ")


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = dataclasses.replace(
        default_config(), pacing="unthrottled", delays=FAST_DELAYS, tls=True
    )
    yield from running_stack(config, tmp_path_factory)


@pytest.fixture(scope="module")
def opened(tls_stack: Stack) -> dict[str, Any]:
    result: dict[str, Any] = tls_stack.call(
        "space.open", {"space": "demo", "endpoint_url": tls_stack.emu.endpoint_url}
    )
    assert result["ssh_host"] == "sm-demo"
    return result


def test_the_emulator_serves_https_and_wss(tls_stack: Stack) -> None:
    env = tls_stack.emu.env
    assert env["AWS_ENDPOINT_URL"].startswith("https://127.0.0.1:")
    assert env["SSL_CERT_FILE"] == env["AWS_CA_BUNDLE"]
    assert Path(env["SSL_CERT_FILE"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert not any("PRIVATE KEY" in value for value in env.values())


def test_ssh_runs_over_wss_and_moves_bytes_exactly(
    tls_stack: Stack, opened: dict[str, Any], tmp_path: Path
) -> None:
    broker = tls_stack.emu.emulator.broker
    before = dict(broker.accepted)
    done = tls_stack.ssh("sm-demo", "echo over-tls; exit 3")
    assert (done.returncode, done.stdout) == (3, b"over-tls\n"), done.stderr

    payload = os.urandom(4 * MIB)
    up = tls_stack.ssh("sm-demo", "cat > tls-up.bin && sha256sum tls-up.bin", input=payload)
    assert up.returncode == 0, up.stderr
    assert up.stdout.split()[0].decode() == hashlib.sha256(payload).hexdigest()

    down = tls_stack.ssh("sm-demo", "cat tls-up.bin")
    assert down.returncode == 0, down.stderr
    assert down.stdout == payload

    relay = tls_stack.ssh("-o", "ProxyUseFdpass=no", "sm-demo", "head -c 3145728 tls-up.bin")
    assert relay.returncode == 0, relay.stderr
    assert relay.stdout == payload[: 3 * MIB]

    # Every data channel of these ssh connections came in over TLS, none in the clear.
    assert broker.accepted["ws"] == before["ws"] == 0
    assert broker.accepted["wss"] >= before["wss"] + 4
    grants = [broker.stream_url(sid) for sid in broker.sessions]
    assert grants and all(url.startswith("wss://127.0.0.1:") for url in grants)


def _untrusting(tls_stack: Stack, home: Path, drop: tuple[str, ...]) -> Sandbox:
    """A sandbox on the same emulator whose clients are not told to trust its CA (``drop``:
    the trust variables left out)."""
    env = {k: v for k, v in tls_stack.emu.env.items() if k not in drop}
    return Sandbox.create(home, env, extra=FAST_DAEMON, emulator=tls_stack.emu)


@pytest.mark.parametrize(
    "drop",
    [("SSL_CERT_FILE",), ("SSL_CERT_FILE", "AWS_CA_BUNDLE")],
    ids=["data-channel", "api-and-data-channel"],
)
def test_a_client_that_does_not_trust_the_ca_gets_one_clear_line(
    tls_stack: Stack, tmp_path: Path, drop: tuple[str, ...]
) -> None:
    box = _untrusting(tls_stack, tmp_path / "home", drop)
    try:
        done = box.smconnect("ssh", "--yes", "demo", "true", timeout=120)
    finally:
        box.stop_daemon()
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    # Progress lines ("smconnect: [   0s] demo: ...") aside, one line says what failed.
    lines = [x for x in done.stderr.splitlines() if x.strip() and not _PROGRESS.match(x)]
    assert len(lines) == 1, done.stderr
    assert "certificate" in lines[0] and "not trusted" in lines[0]
    assert "127.0.0.1" in lines[0]
