"""What scripts/test-vscode prepared: Node 24, code-server, Chromium and the built .vsix.

The test never installs anything itself (that takes minutes and belongs in the script); it
fails with the command to run when something is missing, so a broken setup is never a skip.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .vscode_helpers import EXTENSION, TOOLS_FILE, Tools


@pytest.fixture(scope="session")
def tools() -> Tools:
    if not TOOLS_FILE.is_file():
        pytest.fail(
            f"{TOOLS_FILE} is missing: run scripts/test-vscode first "
            "(it installs code-server and Chromium and builds the .vsix)",
            pytrace=False,
        )
    data = json.loads(TOOLS_FILE.read_text())
    found = Tools(
        node=Path(data["node"]),
        code_server=Path(data["code_server"]),
        vsix=Path(data["vsix"]),
        remote_ssh_stub=Path(data["remote_ssh_stub"]),
        chromium=Path(data["chromium"]),
        e2e_script=EXTENSION / "e2e" / "connect.mjs",
    )
    missing = [str(p) for p in vars(found).values() if not p.exists()]
    if shutil.which("ssh") is None:
        missing.append("ssh (openssh-client)")
    if missing:
        pytest.fail(
            "missing " + ", ".join(missing) + ": run scripts/test-vscode to prepare them",
            pytrace=False,
        )
    return found
