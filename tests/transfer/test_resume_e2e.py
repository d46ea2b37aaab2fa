"""Resume for real: the CLI killed with -9 half-way through a copy paced like the service, then
run again; the daemon cancels the orphaned copy and the re-run skips what had landed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.daemon.jupyter.kernels_helpers import Stack
from tests.transfer.transfer_helpers import (
    clear_manifests,
    kill_when,
    landed_chunks,
    realistic_pacing,
)

PIECE = 256 << 10
PIECES = 16


def test_kill_9_half_way_then_resume_both_ways(stack: Stack, tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(PIECES * PIECE + 1234))
    total = src.stat().st_size
    args = ["--lanes", "2", "--chunk", str(PIECE)]
    manifests = clear_manifests(stack)
    back = tmp_path / "back.bin"
    runs = [  # (cp's paths, where the manifest of landed chunks is kept)
        ([str(src), "demo:model.bin"], (manifests, "*.smc-resume")),
        (["demo:model.bin", str(back)], (tmp_path, ".back.bin.smc-resume")),
    ]
    with realistic_pacing(stack):
        for paths, (folder, pattern) in runs:
            proc = stack.popen("cp", "--json", *args, *paths)

            def half_way(folder: Path = folder, pattern: str = pattern) -> bool:
                return landed_chunks(folder.glob(pattern)) >= PIECES // 2

            kill_when(proc, half_way, 60)
            again = stack.smconnect("cp", "--json", *args, *paths, timeout=120)
            assert again.returncode == 0, again.stderr
            summary = json.loads(again.stdout)
            assert summary["skipped_bytes"] >= 0.4 * total, summary
            assert summary["bytes"] == total
    assert (stack.space_home("demo") / "model.bin").read_bytes() == src.read_bytes()
    assert back.read_bytes() == src.read_bytes()
    assert not list(tmp_path.glob(".*smc-*")) and not list(manifests.glob("*"))
