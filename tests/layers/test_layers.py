"""The layering of ``bridge/``, enforced on the import graph (see docs/design/architecture.md).

From the bottom up:

* foundation: ``bridge.fsutil``, ``bridge.paths``, ``bridge.redact`` (stdlib only);
* lower layers: ``bridge.ssm`` (the SSM data channel), ``bridge.aws`` (boto3, credentials),
  ``bridge.ssh`` (the ssh config we own, ssh over a stream), independent of one another;
* higher layers: ``bridge.daemon``, ``bridge.proxy`` and its ``bridge.proxy_*`` modules
  (+ ``bridge.fastws``), ``bridge.cli``;
* beside production: ``bridge.emulator`` (a fake AWS, built on the ssm protocol pieces) and
  ``bridge.testing`` (scaffolding that runs the real CLI and daemon against it).

Nothing is imported: the graph is read with ``ast`` (``import_graph.py``).
"""

from __future__ import annotations

import sys

import pytest

from .import_graph import Edge, closure, cycles, edges, internal

ALL_EDGES = list(edges())
BRIDGE_EDGES = internal(ALL_EDGES)

FOUNDATION = ("bridge.fsutil", "bridge.paths", "bridge.redact")
LOWER = ("bridge.ssm", "bridge.aws", "bridge.ssh")
# The ProxyCommand: the entry point and what it was split into (docs/design/proxy.md).
PROXY = ("bridge.proxy", "bridge.proxy_fdpass", "bridge.proxy_messages", "bridge.proxy_relay")
HIGHER = ("bridge.daemon", "bridge.cli", "bridge.emulator", "bridge.testing", *PROXY)
NOT_PRODUCTION = ("bridge.emulator", "bridge.testing")
# The only production module that may reach the emulator: `smconnect emulator serve` starts
# it, importing it when the command runs (never when the CLI starts).
STARTS_EMULATOR = "bridge.cli.emulator_cmd"
# The client side of the data channel, which the emulator (the agent side) must not reuse.
CLIENT_ONLY_SSM = ("bridge.ssm.transport", "bridge.ssm.port")
PROXY_FORBIDDEN = ("boto3", "botocore", "typer", "rich", "click", "asyncssh")


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _show(found: list[Edge]) -> list[str]:
    return sorted(f"{e.source} -> {e.target} (line {e.line})" for e in found)


def test_the_graph_is_read() -> None:
    """Guards the guards: a parser that found nothing would pass every rule below."""
    targets = {(e.source, e.target) for e in BRIDGE_EDGES}
    assert ("bridge.ssh.config", "bridge.fsutil") in targets
    assert ("bridge.cli.spaces_cmd", "bridge.cli.output") in targets
    assert ("bridge.proxy", "bridge.paths") in targets


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for e in BRIDGE_EDGES:
        graph.setdefault(e.source, set()).add(e.target)
    assert cycles(graph) == []


def test_lower_layers_never_import_higher_ones() -> None:
    up = [e for e in BRIDGE_EDGES if _in(e.source, FOUNDATION + LOWER) and _in(e.target, HIGHER)]
    assert _show(up) == []


@pytest.mark.parametrize("layer", LOWER)
def test_lower_layers_are_independent(layer: str) -> None:
    others = tuple(p for p in LOWER if p != layer)
    sideways = [e for e in BRIDGE_EDGES if _in(e.source, (layer,)) and _in(e.target, others)]
    assert _show(sideways) == []


@pytest.mark.parametrize("module", FOUNDATION)
def test_foundation_modules_are_stdlib_only(module: str) -> None:
    reached = closure(module, ALL_EDGES) - {module}
    assert sorted(m for m in reached if m not in sys.stdlib_module_names) == []


def test_production_code_never_imports_the_emulator_or_test_scaffolding() -> None:
    found = [
        e
        for e in BRIDGE_EDGES
        if not _in(e.source, NOT_PRODUCTION)
        and _in(e.target, NOT_PRODUCTION)
        and not (e.source == STARTS_EMULATOR and e.lazy)
    ]
    assert _show(found) == []


def test_the_emulator_uses_only_the_ssm_protocol_pieces() -> None:
    found = [
        e
        for e in BRIDGE_EDGES
        if _in(e.source, ("bridge.emulator",))
        and not _in(e.target, ("bridge.emulator",))
        and (not _in(e.target, ("bridge.ssm",)) or _in(e.target, CLIENT_ONLY_SSM))
    ]
    assert _show(found) == []


@pytest.mark.parametrize("entry", [*PROXY, "bridge.__main__"])
def test_the_proxy_imports_no_boto3_typer_or_rich(entry: str) -> None:
    """Static twin of tests/proxy's runtime check, lazy imports included. ``bridge.__main__``
    routes ``proxy`` before importing the CLI, so only its proxy branch is followed."""
    edges = ALL_EDGES
    if entry == "bridge.__main__":
        edges = [e for e in ALL_EDGES if e.source != entry or e.target == "bridge.proxy"]
    reached = closure(entry, edges)
    assert sorted(m for m in reached if m in PROXY_FORBIDDEN) == []
