"""``smconnect … --help`` screens, run through the installed console script and parsed.

Shared by the docs/cli.md checks and the JSON-schema checks (one cached walk of the tree).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
SMCONNECT = str(Path(sys.executable).parent / "smconnect")
GLOBAL = "(global)"  # the section key of the top-level options
HIDDEN_COMMANDS = frozenset({"proxy", "credentials"})  # routed in bridge/__main__.py
ALWAYS = frozenset({"--help"})  # every command has it; documented once

_PANEL_START = re.compile(r"^╭─ (?P<title>[A-Za-z ]+?) ─")
_OPTION = re.compile(r"^-{1,2}[A-Za-z][\w-]*$")


@dataclass(frozen=True)
class Help:
    """What one ``--help`` screen lists."""

    options: frozenset[str]
    commands: tuple[str, ...]


def _run_help(path: tuple[str, ...]) -> str:
    env = {**os.environ, "COLUMNS": "240", "NO_COLOR": "1", "TERM": "dumb"}
    done = subprocess.run(
        [SMCONNECT, *path, "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, f"smconnect {' '.join(path)} --help failed: {done.stderr}"
    return done.stdout


def _parse_help(text: str) -> Help:
    """Options and subcommands from typer's rich panels (first cell of each row)."""
    options: set[str] = set()
    commands: list[str] = []
    panel = ""
    for line in text.splitlines():
        start = _PANEL_START.match(line)
        if start:
            panel = start["title"]
            continue
        if line.startswith("╰"):
            panel = ""
            continue
        if not panel or not line.startswith("│"):
            continue
        tokens = line.strip("│ ").split()
        if panel == "Commands" and tokens:
            commands.append(tokens[0])
        elif panel == "Options":
            for token in tokens:
                names = token.split("/")  # --flag/--no-flag
                if not all(_OPTION.match(name) for name in names):
                    break
                options.update(names)
    return Help(frozenset(options), tuple(commands))


@cache
def help_tree() -> dict[str, Help]:
    """``--help`` of the top level (key ``GLOBAL``) and of every command and subcommand."""
    top = _parse_help(_run_help(()))
    tree = {GLOBAL: top}
    level: list[tuple[str, ...]] = [(name,) for name in top.commands]
    with ThreadPoolExecutor(max_workers=4) as pool:
        while level:
            screens = list(pool.map(lambda p: _parse_help(_run_help(p)), level))
            nxt: list[tuple[str, ...]] = []
            for path, screen in zip(level, screens, strict=True):
                tree[" ".join(path)] = screen
                nxt.extend((*path, sub) for sub in screen.commands)
            level = nxt
    return tree
