"""The sync API inside a running event loop (a Jupyter cell), and what ``import smconnect``
pulls in."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import smconnect


async def test_sync_calls_work_inside_a_running_loop() -> None:
    names = {s.name for s in smconnect.spaces()}
    assert {"demo", "locked"} <= names
    demo = smconnect.start("demo")
    assert demo.running and demo.ssh_host == "sm-demo"
    assert smconnect.status(demo).running
    with smconnect.paramiko_client(demo) as client:
        _, stdout, _ = client.exec_command("echo from-a-loop")
        assert stdout.read() == b"from-a-loop\n"
    await asyncio.sleep(0)  # the loop is still usable


def test_sync_calls_from_a_thread_with_a_running_loop_in_a_script() -> None:
    """What a notebook does: the kernel's loop runs; a cell calls the sync API."""

    async def cell() -> list[str]:
        return [s.ref for s in smconnect.spaces()]

    assert "d-emulator00001/demo" in asyncio.run(cell())


def test_import_smconnect_imports_no_paramiko_and_no_emulator() -> None:
    code = (
        "import json, sys, smconnect; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('paramiko', 'fabric') or m.startswith('bridge.emulator'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
