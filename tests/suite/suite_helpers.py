"""A pytest of its own over tests planted in a temporary folder, with this suite's conftest as
a plugin: how the suite's own machinery (the secret scan, the solo lock) is proven on cases
that must fail or race, without touching the session that runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_inner_pytest(
    tmp_path: Path,
    args: Sequence[str],
    env: dict[str, str],
    import_paths: Sequence[Path] = (),
) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``args`` (options, then the planted files) in ``tmp_path``: its own ini,
    root and base temp folder (``tmp_path / "base"``), the repository and ``import_paths`` on
    PYTHONPATH, ``env`` added to ours; two minutes at most."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    full_env = {**os.environ, **env}
    paths = [str(REPO), *map(str, import_paths), full_env.get("PYTHONPATH", "")]
    full_env["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest"),
            *("-p", "no:cacheprovider"),
            *("-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path)),
            *("--basetemp", str(tmp_path / "base"), *args),
        ],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
