"""The import graph of ``bridge/``, read with ``ast`` (nothing is imported or executed).

Every ``import`` statement counts, wherever it is: a lazy import inside a function still makes
one module depend on another (it only hides a cycle from the interpreter), and an
``if TYPE_CHECKING:`` import still couples the two modules' code. Each edge records whether it
runs at import time, so a rule can allow a lazy import where the design calls for one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bridge"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str  # a bridge module, or the top-level name of a third-party/stdlib one
    line: int
    lazy: bool  # inside a function or ``if TYPE_CHECKING:``: not run when the module is imported


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str:
    """The module ``name`` denotes: ``from bridge.ssh import fsutil`` names a module, while
    ``from bridge.ssh.config import SshConfig`` names an attribute of one."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


class _Collector(ast.NodeVisitor):
    def __init__(self, source: str, is_package: bool, known: dict[str, Path]) -> None:
        self.source = source
        self.package = source if is_package else source.rpartition(".")[0]
        self.known = known
        self.depth = 0
        self.edges: list[Edge] = []

    def _add(self, target: str, line: int) -> None:
        if target.startswith("bridge.") or target == "bridge":
            target = _resolve(target, self.known)
        else:
            target = target.split(".")[0]
        if target and target != self.source:
            self.edges.append(Edge(self.source, target, line, self.depth > 0))

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
        if name != "TYPE_CHECKING":
            self.generic_visit(node)
            return
        self.depth += 1
        for child in node.body:
            self.visit(child)
        self.depth -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = f"{base}.{node.module}" if node.module else base
        else:
            module = node.module or ""
        for alias in node.names:
            self._add(f"{module}.{alias.name}", node.lineno)


def edges() -> Iterator[Edge]:
    known = modules()
    for name, path in known.items():
        collector = _Collector(name, path.name == "__init__.py", known)
        collector.visit(ast.parse(path.read_text(), str(path)))
        yield from collector.edges


def internal(all_edges: list[Edge]) -> list[Edge]:
    return [e for e in all_edges if e.target.startswith("bridge")]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def closure(start: str, all_edges: list[Edge]) -> set[str]:
    """Every module (bridge or external top-level name) reachable from ``start``."""
    graph: dict[str, set[str]] = {}
    for e in all_edges:
        graph.setdefault(e.source, set()).add(e.target)
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
