"""The SFTP fallback for real: a space whose sessions cannot run ``python3`` (its PATH holds
nothing) still gets byte-identical copies both ways over SFTP on the same lanes, resumes after
kill -9, and the CLI says so once on stderr and as ``"method": "sftp"``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bridge.cli.transfer_cmd import SFTP_NOTICE
from tests.daemon.jupyter.kernels_helpers import Stack
from tests.transfer.transfer_helpers import (
    clear_manifests,
    cp_json,
    kill_when,
    landed_chunks,
    realistic_pacing,
    sample_tree,
    space_without_python,
    tree_hashes,
)

PIECE = 256 << 10
PIECES = 12


def _cp(stack: Stack, *args: str) -> dict[str, Any]:
    summary, stderr = cp_json(stack, *args)
    assert stderr.count(SFTP_NOTICE) == 1, stderr
    assert summary["method"] == "sftp"
    return summary


def test_a_tree_goes_up_and_down_over_sftp(stack: Stack, tmp_path: Path) -> None:
    src = tmp_path / "data set"
    sample_tree(src, 3 * PIECE + 77)
    with space_without_python(stack, "editor", tmp_path / "bare") as home:
        args = ["-r", "--lanes", "2", "--chunk", str(PIECE)]
        up = _cp(stack, *args, str(src), "editor:")
        assert up["files"] == 3 and up["lanes"] == 2
        assert tree_hashes(home / "data set") == tree_hashes(src)
        assert not list((home / "data set").glob(".*smc-part"))
        down = _cp(stack, *args, "editor:data set", str(tmp_path / "back"))
        assert down["files"] == 3
        assert tree_hashes(tmp_path / "back") == tree_hashes(src)


def test_kill_9_then_resume_over_sftp(stack: Stack, tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(PIECES * PIECE + 1234))
    total = src.stat().st_size
    args = ["--lanes", "2", "--chunk", str(PIECE)]
    back = tmp_path / "back.bin"
    runs = [
        ([str(src), "editor:model.bin"], (clear_manifests(stack), "*.smc-resume")),
        (["editor:model.bin", str(back)], (tmp_path, ".back.bin.smc-resume")),
    ]
    with space_without_python(stack, "editor", tmp_path / "bare") as home, realistic_pacing(stack):
        for paths, (folder, pattern) in runs:
            proc = stack.popen("cp", "--json", *args, *paths)

            def half_way(folder: Path = folder, pattern: str = pattern) -> bool:
                return landed_chunks(folder.glob(pattern)) >= PIECES // 2

            kill_when(proc, half_way, 60)
            summary = _cp(stack, *args, *paths)
            assert int(summary["skipped_bytes"]) >= 0.4 * total, summary
            assert summary["bytes"] == total
        assert (home / "model.bin").read_bytes() == src.read_bytes()
    assert back.read_bytes() == src.read_bytes()


def test_a_rerun_never_meets_the_killed_runs_cancellation(stack: Stack, tmp_path: Path) -> None:
    """kill -9 once every piece has landed: the daemon cancels the run in the middle of its
    finish (reading the partial back, seconds at the service's pace), and the re-run starts at
    once for the same destination. Before the fix the cancelled finish could remove the partial
    the re-run had just taken over ("model.bin: No such file or directory"); now the re-run
    waits until the old run's lanes are closed, then resumes from what it left."""
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(PIECES * PIECE + 1234))
    args = ["--lanes", "2", "--chunk", str(PIECE), str(src), "editor:model.bin"]
    manifests = clear_manifests(stack)
    with space_without_python(stack, "editor", tmp_path / "bare") as home, realistic_pacing(stack):
        (home / "model.bin").unlink(missing_ok=True)
        first = stack.popen("cp", "--json", *args)
        kill_when(first, lambda: landed_chunks(manifests.glob("*.smc-resume")) >= PIECES, 60)
        summary = _cp(stack, *args)
        assert summary["bytes"] == src.stat().st_size
        assert (home / "model.bin").read_bytes() == src.read_bytes()
        assert not list(home.glob(".*smc-part"))
