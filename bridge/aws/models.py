"""Trimmed botocore data for the daemon: only the operations and services it calls.

botocore builds a client from a service's whole ``service-2.json``: SageMaker's holds hundreds of
operations and parses to ~18 MB of Python objects, SSM's to ~7 MB, for the dozen calls the daemon
makes (``OPERATIONS``). The daemon keeps those objects for its lifetime, and freeing them after a
parse does not give the memory back (small objects in fragmented arenas; ``malloc_trim`` returned
0.1 MB). So a child process parses botocore's own model once per botocore version, keeps each
operation we call with every shape it reaches (input, output, errors, transitively; each shape
unchanged, documentation included) and writes the result under the daemon's state directory. The
daemon then reads only that small file, through the shared loader's search path (first on it).
botocore's ``endpoints.json`` (~7 MB parsed, loaded with the first client of any service) is cut
the same way, to the services the daemon may call (``ENDPOINT_SERVICES``), every partition kept.

The cache is keyed by botocore's version, ``OPERATIONS`` and a hash of the source model files,
so an upgrade or a changed model builds a new one. Any doubt (no child, an unreadable or
incomplete file, an operation or shape missing) leaves botocore's full model in charge, logged
once. Responses are parsed and validated with the very same shape definitions as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders

__all__ = [
    "ENDPOINT_SERVICES",
    "OPERATIONS",
    "ModelLoader",
    "cached",
    "prepare",
    "reachable_shapes",
    "trim",
    "trim_endpoints",
]

log = logging.getLogger(__name__)

# Every operation the daemon calls (bridge/aws/studio*.py; tests/aws/test_models.py checks the
# list against the code). A call missing here would fail with AttributeError, so the test is
# the guard.
OPERATIONS: Mapping[str, tuple[str, ...]] = {
    "sagemaker": (
        "CreateApp",
        "DeleteApp",
        "DescribeApp",
        "DescribeDomain",
        "DescribeSpace",
        "ListApps",
        "ListDomains",
        "ListSpaces",
        "StartSession",
        "UpdateSpace",
    ),
    "ssm": ("ResumeSession", "TerminateSession"),
}

# Every service the daemon may build a client for: ours, and those botocore's credential
# providers call (assume-role, SSO, sign-in). Their entries are kept in the trimmed endpoints
# data (``trim_endpoints``); any other service resolves with its partition's defaults, as one
# botocore does not know yet would.
ENDPOINT_SERVICES = (*OPERATIONS, "pricing", "signin", "sso", "sso-oidc", "sts")

_TYPE = "service-2"
_ENDPOINTS = "endpoints"
_KEY_FILE = "key"
_BUILD_TIMEOUT = 120.0
_warned: set[str] = set()
_BUILD_LOCK = threading.Lock()  # one build at a time (the start-up warm-up, a first session)


def reachable_shapes(model: Mapping[str, Any], operations: Iterable[str]) -> list[str]:
    """The names of every shape ``operations`` reach (input, output, errors, their members,
    list members, map keys and values, transitively), in the model's order."""
    shapes = model["shapes"]
    seen: set[str] = set()
    todo: list[str] = []
    for name in operations:
        op = model["operations"][name]
        refs = [op.get("input"), op.get("output"), *op.get("errors", ())]
        todo.extend(ref["shape"] for ref in refs if ref)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        shape = shapes[name]  # KeyError: the model is broken, and so is the trim
        refs = [*shape.get("members", {}).values()]
        refs += [shape[k] for k in ("member", "key", "value") if k in shape]
        todo.extend(ref["shape"] for ref in refs)
    return [name for name in shapes if name in seen]


def trim(model: Mapping[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    """``model`` with only ``operations`` and the shapes they reach; everything else as is."""
    wanted = list(operations)
    trimmed = {k: v for k, v in model.items() if k not in ("operations", "shapes")}
    trimmed["operations"] = {n: model["operations"][n] for n in model["operations"] if n in wanted}
    trimmed["shapes"] = {n: model["shapes"][n] for n in reachable_shapes(model, wanted)}
    return trimmed


def trim_endpoints(endpoints: Mapping[str, Any], prefixes: Iterable[str]) -> dict[str, Any]:
    """botocore's endpoints data (~7 MB parsed: 300 services in 8 partitions) with only the
    services of ``prefixes`` (their endpoint prefixes); every partition's own fields as is."""
    keep = set(prefixes)
    partitions = [
        {**p, "services": {n: v for n, v in p["services"].items() if n in keep}}
        for p in endpoints["partitions"]
    ]
    return {**endpoints, "partitions": partitions}


class ModelLoader(botocore.loaders.Loader):
    """botocore's loader, with the trimmed models' directory counted as built-in data.

    botocore feeds endpoints data from anywhere but its own package to the endpoint rules as a
    custom endpoint (``is_builtin_path``); the trimmed copy is botocore's own, cut, so it is
    treated as botocore's."""

    trimmed: str | None = None

    def is_builtin_path(self, path: str) -> bool:
        inside = self.trimmed is not None and path.startswith(self.trimmed + os.sep)
        return inside or bool(super().is_builtin_path(path))


def prepare(loader: ModelLoader, root: Path) -> bool:
    """Put the trimmed models first on ``loader``'s search path, building them if needed.

    Returns whether they are in use. Runs a child process the first time for a botocore
    version (about a second); the daemon itself never parses the full models here."""
    try:
        target, versions = cached(loader, root)
        _verify(target, target.name, versions)
    except Exception as exc:  # any doubt: botocore's own full models, as before
        _warn_once(f"using botocore's full service models ({_why(exc)})")
        return False
    loader.search_paths.insert(0, str(target))
    loader.trimmed = str(target)
    log.info("serving trimmed service models (%s) from %s", ", ".join(OPERATIONS), target)
    return True


def cached(loader: botocore.loaders.Loader, root: Path) -> tuple[Path, dict[str, str]]:
    """The cache directory for ``loader``'s data (built first if it is not there yet) and the
    API version of each service in it. Raises on any failure."""
    versions = {s: loader.determine_latest_version(s, _TYPE) for s in OPERATIONS}
    key = _key(loader.search_paths, versions)
    target = root / key
    with _BUILD_LOCK:
        if not (target / _KEY_FILE).is_file():
            _build(loader.search_paths, versions, root, target, key)
    return target, versions


def _key(search_paths: list[str], versions: Mapping[str, str]) -> str:
    """botocore's version, our operations and every source file the loader would read."""
    ours = f"{botocore.__version__}\n{sorted(OPERATIONS.items())}\n{ENDPOINT_SERVICES}"
    digest = hashlib.sha256(ours.encode())
    sources = [p for s, v in sorted(versions.items()) for p in _sources(search_paths, s, v)]
    for path in [*sources, *_endpoints_sources(search_paths)]:
        digest.update(f"\n{path}\n".encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                digest.update(chunk)
    return digest.hexdigest()[:32]


def _sources(search_paths: list[str], service: str, version: str) -> Iterator[str]:
    for base in search_paths:
        for name in (_TYPE, f"{_TYPE}.sdk-extras"):
            for ext in (".json", ".json.gz"):
                path = os.path.join(base, service, version, name + ext)
                if os.path.isfile(path):
                    yield path


def _endpoints_sources(search_paths: list[str]) -> Iterator[str]:
    for base in search_paths:
        for ext in (".json", ".json.gz"):
            path = os.path.join(base, _ENDPOINTS + ext)
            if os.path.isfile(path):
                yield path


def _build(
    search_paths: list[str], versions: Mapping[str, str], root: Path, target: Path, key: str
) -> None:
    """Run ``python -m bridge.aws.models`` into a scratch directory, then rename it into place
    (a reader sees a whole cache or none)."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        spec = {"search_paths": search_paths, "versions": versions, "key": key}
        done = subprocess.run(
            [sys.executable, "-m", "bridge.aws.models", str(scratch)],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"building the trimmed models failed: {tail[:200]}")
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / _KEY_FILE).is_file():  # another daemon's build won the rename
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for old in root.iterdir():  # an earlier botocore's: a loader still using one falls back
        if old != target and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    log.debug("built trimmed service models for botocore %s in %s", botocore.__version__, target)


def _verify(target: Path, key: str, versions: Mapping[str, str]) -> None:
    """The cache is ours, whole, and has every operation with every shape it reaches."""
    if (target / _KEY_FILE).read_text() != key:
        raise ValueError("the cached models' key does not match")
    for service, version in versions.items():
        with open(target / service / version / f"{_TYPE}.json", "rb") as f:
            model = json.load(f)
        missing = [op for op in OPERATIONS[service] if op not in model["operations"]]
        if missing:
            raise ValueError(f"the cached {service} model lacks {', '.join(missing)}")
        reachable_shapes(model, OPERATIONS[service])  # KeyError on a shape missing
    endpoints = target / f"{_ENDPOINTS}.json"
    if endpoints.exists():
        with open(endpoints, "rb") as f:
            if not json.load(f)["partitions"]:
                raise ValueError("the cached endpoints data has no partition")


def _build_into(scratch: Path, spec: Mapping[str, Any]) -> None:
    """The child's work: parse botocore's models as its loader would, write the trims."""
    loader = botocore.loaders.Loader(
        extra_search_paths=list(spec["search_paths"]), include_default_search_paths=False
    )
    for service, version in spec["versions"].items():
        if any(".sdk-extras." in p for p in _sources(loader.search_paths, service, version)):
            continue  # extras merged on top of a trim could name what it dropped; keep it whole
        model = loader.load_data(os.path.join(service, version, _TYPE))
        out = scratch / service / version
        out.mkdir(parents=True)
        with open(out / f"{_TYPE}.json", "w", encoding="utf-8") as f:
            json.dump(trim(model, OPERATIONS[service]), f, separators=(",", ":"))
    endpoints, path = loader.load_data_with_path(_ENDPOINTS)
    if loader.is_builtin_path(path):  # someone's own endpoints data stays whole and theirs
        prefixes = [_endpoint_prefix(loader, s) for s in ENDPOINT_SERVICES]
        with open(scratch / f"{_ENDPOINTS}.json", "w", encoding="utf-8") as f:
            json.dump(trim_endpoints(endpoints, filter(None, prefixes)), f, separators=(",", ":"))
    (scratch / _KEY_FILE).write_text(spec["key"])


def _endpoint_prefix(loader: botocore.loaders.Loader, service: str) -> str | None:
    if service not in loader.list_available_services(_TYPE):
        return None  # a service this botocore does not have (yet)
    metadata = loader.load_service_model(service, _TYPE)["metadata"]
    return str(metadata.get("endpointPrefix", service))


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


if __name__ == "__main__":
    _build_into(Path(sys.argv[1]), json.load(sys.stdin))
