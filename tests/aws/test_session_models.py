"""Sessions made for different identities share one parsed copy of each service model (the
daemon holds a session per identity; the SageMaker model is ~20 MB parsed)."""

from __future__ import annotations

from bridge.aws.context import EnvCredentials
from bridge.aws.session import SessionSpec, make_session


def _sagemaker_model(spec: SessionSpec) -> object:
    client = make_session(spec).client("sagemaker", endpoint_url="http://127.0.0.1:9")
    return client.meta.service_model._service_description


def test_two_identities_share_the_sagemaker_model() -> None:
    first = SessionSpec(
        region="us-east-1",
        credentials=EnvCredentials(access_key_id="AKIAFIRST", secret_access_key="s1"),
    )
    second = SessionSpec(
        region="eu-west-1",
        credentials=EnvCredentials(access_key_id="AKIASECOND", secret_access_key="s2"),
    )
    shared = _sagemaker_model(first) is _sagemaker_model(second)
    assert shared  # one parsed model (not two equal ones)


def test_the_shared_loader_keeps_one_search_path_each() -> None:
    spec = SessionSpec(
        region="us-east-1", credentials=EnvCredentials(access_key_id="AKIAX", secret_access_key="s")
    )
    sessions = [make_session(spec) for _ in range(3)]
    paths = sessions[-1]._loader.search_paths
    assert len(paths) == len(set(paths))
