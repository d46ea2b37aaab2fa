"""What the VS Code test imports: where the repository and the prepared tools are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXTENSION", "ROOT", "TOOLS_FILE", "Tools"]

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "vscode-extension"
TOOLS_FILE = EXTENSION / "dist" / "e2e-tools.json"


@dataclass(frozen=True)
class Tools:
    node: Path  # Node 24 (code-server's engine)
    code_server: Path  # code-server's out/node/entry.js
    vsix: Path
    remote_ssh_stub: Path  # registers the remote.SSH.* settings, nothing else
    chromium: Path
    e2e_script: Path
