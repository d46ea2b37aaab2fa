"""asyncssh through ``smconnect.connect``: a command and a 4 MiB SFTP round trip, while the
caller's event loop keeps running."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import smconnect


async def test_connect_runs_a_command_and_a_4_mib_sftp_round_trip(tmp_path: Path) -> None:
    payload = os.urandom(4 * 1024 * 1024)
    source, back = tmp_path / "up.bin", tmp_path / "down.bin"
    source.write_bytes(payload)

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.ensure_future(ticker())
    try:
        async with smconnect.connect("demo") as conn:
            opened_with_ticks = ticks
            result = await conn.run("echo asyncssh-$((6*7)) $USER", check=True)
            assert result.stdout.split() == ["asyncssh-42", "sagemaker-user"]
            async with conn.start_sftp_client() as sftp:
                await sftp.put(str(source), "async.bin")
                await sftp.get("async.bin", str(back))
    finally:
        beat.cancel()
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(payload).digest()
    # The loop went on while the channel was being opened (on a worker thread).
    assert opened_with_ticks > 0


async def test_awaiting_connect_gives_the_connection() -> None:
    conn = await smconnect.connect("demo")
    try:
        assert (await conn.run("echo awaited", check=True)).stdout == "awaited\n"
    finally:
        conn.close()
        await conn.wait_closed()
