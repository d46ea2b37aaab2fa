"""``smconnect … --help`` screens, rendered by the console script's entry point and parsed.

Shared by the docs/cli.md checks and the JSON-schema checks (one cached walk of the tree).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
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


# One process runs the console script's entry point (``bridge.__main__:main``) once per command
# line, its stdout and stderr captured: an argv per stdin line in, [exit status, stdout] out.
# A process per ``--help`` screen cost ~0.5 CPU s each, ~40 of them, for the same text.
_RENDERER = """
import contextlib, io, json, sys
from bridge.__main__ import main
for line in sys.stdin:
    out = io.StringIO()
    sys.argv = ["smconnect", *json.loads(line)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    print(json.dumps([code, out.getvalue()]), flush=True)
"""


class Renderer:
    """Command lines that only print (``--help``), run by one long-lived process."""

    def __init__(self) -> None:
        env = {**os.environ, "COLUMNS": "240", "NO_COLOR": "1", "TERM": "dumb"}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _RENDERER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def run(self, *argv: str) -> tuple[int, str]:
        """``smconnect ARGV``'s exit status and stdout."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(argv) + "\n")
        self._proc.stdin.flush()
        reply = self._proc.stdout.readline()
        assert reply, f"the renderer died at smconnect {' '.join(argv)}"
        code, text = json.loads(reply)
        return int(code), str(text)

    def help(self, path: tuple[str, ...]) -> str:
        code, text = self.run(*path, "--help")
        assert code == 0, f"smconnect {' '.join(path)} --help failed ({code}): {text}"
        return text

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(60)


@cache
def renderer() -> Renderer:
    """The one renderer of a test module, closed after it (``close_renderer``; the screens it
    rendered stay cached): a process left running would look like a leak to tests that count
    the test run's children."""
    one = Renderer()
    atexit.register(close_renderer)
    return one


def close_renderer() -> None:
    """Close the renderer if one was started; the next ``renderer()`` starts a new one."""
    if renderer.cache_info().currsize:
        renderer().close()
        renderer.cache_clear()


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
def help_screens() -> dict[tuple[str, ...], str]:
    """The text of ``--help`` of the top level (``()``) and of every command and subcommand."""
    screens = {(): renderer().help(())}
    level: list[tuple[str, ...]] = [(name,) for name in _parse_help(screens[()]).commands]
    while level:
        nxt: list[tuple[str, ...]] = []
        for path in level:
            screens[path] = renderer().help(path)
            nxt.extend((*path, sub) for sub in _parse_help(screens[path]).commands)
        level = nxt
    return screens


@cache
def help_tree() -> dict[str, Help]:
    """The parsed screens, keyed ``GLOBAL`` (the top level) or by command path."""
    return {" ".join(path) or GLOBAL: _parse_help(text) for path, text in help_screens().items()}
