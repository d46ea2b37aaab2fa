"""The client's import graph stays small: the ProxyCommand relay imports it per ssh connection."""

from __future__ import annotations

import subprocess
import sys

import pytest

FORBIDDEN = ("boto3", "botocore", "typer", "rich", "asyncssh", "click", "platformdirs", "yaml")
DAEMON_ONLY = (
    "bridge.daemon.server",
    "bridge.daemon.dispatch",
    "bridge.daemon.lifecycle",
    "logging.handlers",
)


def imported_modules(statement: str) -> dict[str, int]:
    """Module name → cumulative import time (µs), from ``python -X importtime``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd="/",
    )
    modules = {}
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _self, cumulative, name = line.split(":", 1)[1].split("|")
            if cumulative.strip().isdigit():
                modules[name.strip()] = int(cumulative)
    return modules


def test_client_imports_nothing_heavy() -> None:
    modules = imported_modules("import bridge.daemon.client")
    assert "bridge.daemon.client" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN or m in DAEMON_ONLY)
    assert heavy == []


@pytest.mark.parametrize("module", ["bridge.redact", "bridge.paths"])
def test_relay_fast_path_modules_are_stdlib_only(module: str) -> None:
    """The relay's fast path (bridge.proxy + bridge.fastws) uses these without asyncio."""
    modules = imported_modules(f"import {module}")
    assert module in modules
    assert not [
        m
        for m in modules
        if m.startswith(("websockets", "asyncio")) or m.split(".")[0] in FORBIDDEN
    ]


def _daemon_imports() -> dict[str, set[str]]:
    """bridge.daemon module → the bridge.daemon modules it imports (TYPE_CHECKING ones too)."""
    import ast
    from pathlib import Path

    import bridge.daemon

    root = Path(bridge.daemon.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in root.glob("*.py"):
        name = f"bridge.daemon.{path.stem}"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "bridge.daemon":
                    found.update(f"bridge.daemon.{a.name}" for a in node.names)
                elif node.module.startswith("bridge.daemon."):
                    found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("bridge.daemon."))
        graph[name] = found - {name}
    return graph


def test_daemon_modules_import_each_other_without_cycles() -> None:
    graph = _daemon_imports()
    done: set[str] = set()

    def visit(module: str, stack: list[str]) -> None:
        if module in stack:
            cycle = [*stack[stack.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, [*stack, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_services_use_only_public_names_of_each_other() -> None:
    """jupyter, relay, forwards and spaces reach the pool and each other through public API."""
    import ast
    from pathlib import Path

    import bridge.daemon

    root = Path(bridge.daemon.__file__).parent
    for stem in ("jupyter", "relay", "forwards", "spaces", "app"):
        tree = ast.parse((root / f"{stem}.py").read_text())
        private = [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bridge.")
            for alias in node.names
            if alias.name.startswith("_")
        ]
        assert private == [], f"{stem} imports private names {private}"
