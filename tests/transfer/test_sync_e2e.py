"""``smconnect sync`` for real: the CLI, the daemon's ``transfer.sync``, lanes through the
emulator. A dry run prints the plan and changes nothing; a second run moves nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.daemon.jupyter.kernels_helpers import Stack
from tests.transfer.transfer_helpers import tree_hashes


def test_sync_up_dry_run_then_real_then_nothing_left(stack: Stack, tmp_path: Path) -> None:
    src = tmp_path / "project"
    (src / "src").mkdir(parents=True)
    (src / "src" / "train.py").write_text("print('hi')\n")
    (src / "notes.md").write_text("# notes\n")
    (src / "out.pyc").write_bytes(b"\0")
    args = ["--delete", "--exclude", "*.pyc", str(src), "demo:project"]
    dry = stack.smconnect("sync", "--dry-run", *args)
    assert dry.returncode == 0, dry.stderr
    assert "copy" in dry.stdout and "train.py" in dry.stdout and "out.pyc" not in dry.stdout
    remote = stack.space_home("demo") / "project"
    assert not remote.exists()
    done = stack.smconnect("sync", "--json", *args)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"] == 2
    (src / "out.pyc").unlink()
    assert tree_hashes(remote) == tree_hashes(src)
    again = json.loads(stack.smconnect("sync", "--json", *args).stdout)
    assert again["files"] == 0 and again["skipped_bytes"] == 20  # train.py and notes.md, unchanged
    bad = stack.smconnect("sync", str(src), str(tmp_path / "elsewhere"))
    assert bad.returncode == 2 and "exactly one side" in bad.stderr
