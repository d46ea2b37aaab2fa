"""The test tree mirrors ``bridge/``, and test modules share code only through ``*_helpers``.

A maintainer looking for the tests of ``bridge/ssm/transport.py`` finds them under
``tests/ssm/``; fixtures stay in ``conftest.py`` files, which no module imports (pytest loads
them by scope, and importing one runs its fixtures' module twice under two names).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
BRIDGE = TESTS.parent / "bridge"

# Folders that test the whole product rather than one package of bridge/.
CROSS_CUTTING = {"e2e", "layers", "suite", "support", "vscode", "cli", "api", "proxy"}


def _folders(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}


def test_every_test_folder_names_a_package_of_bridge_or_the_whole_product() -> None:
    stray = _folders(TESTS) - _folders(BRIDGE) - CROSS_CUTTING
    assert not stray, f"test folders with no bridge/ package of that name: {sorted(stray)}"


def test_no_test_module_imports_a_conftest_or_another_test_module() -> None:
    offenders: list[str] = []
    for path in TESTS.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                last = name.rsplit(".", 1)[-1]
                if last == "conftest" or last.startswith("test_"):
                    offenders.append(f"{path.relative_to(TESTS)}: {name}")
    assert not offenders, offenders


def test_the_proof_is_not_empty() -> None:
    assert "ssm" in _folders(TESTS) and "ssm" in _folders(BRIDGE)
