"""The daemon's trimmed SageMaker and SSM models (bridge/aws/models.py): every operation our
code calls is in them with exactly botocore's shapes, unmodified boto3 calls the emulator
through them, and any doubt about the cache falls back to botocore's full model."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from botocore import xform_name

import bridge.aws.studio
from bridge.aws.models import ENDPOINT_SERVICES, OPERATIONS, ModelLoader, prepare, reachable_shapes
from bridge.aws.session import SessionSpec, make_session, use_trimmed_models
from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import DelaysConfig, default_config

from .aws_helpers import studio_on

FAST = DelaysConfig(app_start=0.1, app_stop=0.1, space_update=0.1, start_session_failure_window=0)


def _full(service: str) -> dict[str, Any]:
    model: dict[str, Any] = botocore.session.get_session().get_service_data(service)
    return model


def _prepared(root: Path) -> ModelLoader:
    loader = ModelLoader()
    assert prepare(loader, root)
    return loader


def _trimmed(loader: botocore.loaders.Loader, service: str) -> dict[str, Any]:
    model: dict[str, Any] = loader.load_service_model(service, "service-2")
    return model


@pytest.fixture
def trimmed_models(tmp_path: Path) -> Iterator[Path]:
    use_trimmed_models(tmp_path)
    try:
        yield tmp_path
    finally:
        use_trimmed_models(None)


def test_every_operation_the_studio_client_calls_is_kept() -> None:
    """Read from the client's modules themselves (studio.py, studio_lookup.py, ...): a call
    added there without its operation here fails."""
    modules = sorted(Path(bridge.aws.studio.__file__).parent.glob("studio*.py"))
    assert len(modules) >= 3, modules
    source = "\n".join(m.read_text() for m in modules)
    called = {
        "sagemaker": set(re.findall(r"\bsm(?:_sessions)?\.(\w+)\b", source))
        | set(re.findall(r'\bpaginate\(\s*"(\w+)"', source)),
        "ssm": set(re.findall(r"\bssm\.(\w+)\b", source)),
    }
    for service, names in called.items():
        by_method = {xform_name(op): op for op in _full(service)["operations"]}
        operations = {by_method[n] for n in names - {"meta", "get_paginator"}}
        assert operations, service
        assert operations <= set(OPERATIONS[service]), service


def test_trimmed_models_hold_botocores_own_operations_and_shapes(tmp_path: Path) -> None:
    loader = _prepared(tmp_path)
    for service, operations in OPERATIONS.items():
        full, trimmed = _full(service), _trimmed(loader, service)
        assert trimmed["metadata"] == full["metadata"]
        assert trimmed["operations"] == {op: full["operations"][op] for op in operations}
        kept = reachable_shapes(full, operations)
        assert len(kept) < len(full["shapes"]) // 4
        assert trimmed["shapes"] == {name: full["shapes"][name] for name in kept}


def test_the_cache_is_built_once_and_reused(tmp_path: Path) -> None:
    _prepared(tmp_path)
    built = list(tmp_path.iterdir())
    assert len(built) == 1 and not built[0].name.startswith(".")
    stamp = (built[0] / "key").stat().st_mtime_ns
    _prepared(tmp_path)
    assert list(tmp_path.iterdir()) == built
    assert (built[0] / "key").stat().st_mtime_ns == stamp


def test_a_new_build_removes_an_earlier_botocores_cache(tmp_path: Path) -> None:
    earlier = tmp_path / "0123456789abcdef"
    (earlier / "sagemaker").mkdir(parents=True)
    (earlier / "key").write_text(earlier.name)
    _prepared(tmp_path)
    assert not earlier.exists() and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda model: model.write_text(model.read_text()[:-100]),  # truncated
        lambda model: model.write_text(
            json.dumps(
                {
                    **json.loads(model.read_text()),
                    "operations": {
                        k: v
                        for k, v in json.loads(model.read_text())["operations"].items()
                        if k != "StartSession"
                    },
                }
            )
        ),  # an operation missing
        lambda model: (model.parent.parent.parent / "key").write_text("0" * 32),  # not ours
    ],
    ids=["truncated", "operation-missing", "key-mismatch"],
)
def test_a_damaged_cache_falls_back_to_the_full_model(
    tmp_path: Path, damage: Callable[[Path], object], caplog: pytest.LogCaptureFixture
) -> None:
    _prepared(tmp_path)
    (model,) = tmp_path.glob("*/sagemaker/*/service-2.json")
    damage(model)
    loader = ModelLoader()
    with caplog.at_level(logging.WARNING, logger="bridge.aws.models"):
        assert not prepare(loader, tmp_path)
    assert not any(str(tmp_path) in p for p in loader.search_paths)
    assert "full service models" in caplog.text
    full = loader.load_service_model("sagemaker", "service-2")
    assert len(full["operations"]) == len(_full("sagemaker")["operations"])


def test_trimmed_endpoints_keep_our_services_and_every_partition(tmp_path: Path) -> None:
    full = botocore.loaders.create_loader().load_data("endpoints")
    loader = _prepared(tmp_path)
    trimmed, path = loader.load_data_with_path("endpoints")
    assert path.startswith(str(tmp_path))
    assert loader.is_builtin_path(path)  # botocore's own data, cut: its endpoint rules decide
    assert len(trimmed["partitions"]) == len(full["partitions"])
    for cut, whole in zip(trimmed["partitions"], full["partitions"], strict=True):
        assert {k: v for k, v in cut.items() if k != "services"} == {
            k: v for k, v in whole.items() if k != "services"
        }
        assert cut["services"] == {n: whole["services"][n] for n in cut["services"]}
    assert "api.sagemaker" in trimmed["partitions"][0]["services"]
    assert "ec2" not in trimmed["partitions"][0]["services"]


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"])
def test_clients_resolve_as_with_botocores_full_data(
    trimmed_models: Path, region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same endpoint, region and signing for every service the daemon may call, on AWS."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(trimmed_models / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(trimmed_models / "none"))
    full = botocore.session.get_session()
    ours = make_session(SessionSpec(region=region))
    for service in ENDPOINT_SERVICES:
        if service == "pricing" and region != "us-east-1":
            continue  # pricing has a few regions only; both refuse the others alike
        a = full.create_client(
            service, region_name=region, aws_access_key_id="a", aws_secret_access_key="b"
        )
        b = ours.client(service, aws_access_key_id="a", aws_secret_access_key="b")
        seen = [
            (
                c.meta.endpoint_url,
                c.meta.region_name,
                c.meta.partition,
                c._request_signer._signing_name,
                c._request_signer.signature_version,
            )
            for c in (a, b)
        ]
        assert seen[0] == seen[1], service
    assert len(ours.client("sagemaker").meta.service_model.operation_names) == len(
        OPERATIONS["sagemaker"]
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    import dataclasses

    with start_in_thread(dataclasses.replace(default_config(), delays=FAST)) as handle:
        yield handle


def test_unmodified_boto3_calls_the_emulator_through_the_trimmed_models(
    trimmed_models: Path, emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    studio = studio_on(emulator, monkeypatch)
    sagemaker = make_session().client("sagemaker", endpoint_url=emulator.endpoint_url)
    assert sorted(sagemaker.meta.service_model.operation_names) == list(OPERATIONS["sagemaker"])
    assert [s.name for s in studio.list_spaces() if s.name == "demo"] == ["demo"]
    space = studio.start_app(studio.resolve_space("demo"))  # UpdateSpace, CreateApp, DescribeApp
    assert space.running
    studio.idle_state(space)  # DescribeDomain: answered (whatever the emulator's idle settings)
    grant = studio.start_session(space)
    assert grant.stream_url.startswith("ws") and grant.token_value
    assert studio.resume_session(grant.session_id)
    studio.terminate_session(grant.session_id)
    stopped = studio.stop_app(space)  # DeleteApp
    assert stopped.app_status is None
