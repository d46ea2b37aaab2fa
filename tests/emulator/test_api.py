"""Discovery calls: shapes as botocore parses them, filters, sorting, pagination."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .emulator_helpers import DOMAIN, space_arn


def test_list_and_describe_domain(sm: Any) -> None:
    domains = sm.list_domains()["Domains"]
    assert [(d["DomainId"], d["DomainName"], d["Status"]) for d in domains] == [
        (DOMAIN, "smconnect-demo", "InService")
    ]
    assert domains[0]["DomainArn"] == f"arn:aws:sagemaker:us-east-1:123456789012:domain/{DOMAIN}"
    assert isinstance(domains[0]["CreationTime"], dt.datetime)
    described = sm.describe_domain(DomainId=DOMAIN)
    assert described["DomainName"] == "smconnect-demo"
    assert described["AuthMode"] == "IAM"


def test_user_profiles(sm: Any) -> None:
    profiles = sm.list_user_profiles(DomainIdEquals=DOMAIN)["UserProfiles"]
    assert [(p["DomainId"], p["UserProfileName"], p["Status"]) for p in profiles] == [
        (DOMAIN, "default-user", "InService")
    ]


def test_list_spaces_summaries(sm: Any) -> None:
    spaces = {s["SpaceName"]: s for s in sm.list_spaces(DomainIdEquals=DOMAIN)["Spaces"]}
    assert {"demo", "editor", "locked"} <= set(spaces)
    assert spaces["demo"]["SpaceSettingsSummary"]["AppType"] == "JupyterLab"
    assert spaces["demo"]["SpaceSettingsSummary"]["RemoteAccess"] == "ENABLED"
    assert spaces["editor"]["SpaceSettingsSummary"]["AppType"] == "CodeEditor"
    assert spaces["locked"]["SpaceSettingsSummary"]["RemoteAccess"] == "DISABLED"
    assert spaces["demo"]["OwnershipSettingsSummary"] == {"OwnerUserProfileName": "default-user"}
    assert spaces["demo"]["SpaceSharingSettingsSummary"] == {"SharingType": "Private"}
    assert spaces["demo"]["Status"] == "InService"
    assert sm.list_spaces(DomainIdEquals="d-nosuchdomain1")["Spaces"] == []
    assert [s["SpaceName"] for s in sm.list_spaces(SpaceNameContains="ce-lo")["Spaces"]] == [
        "ce-locked"
    ]


def test_describe_space_shape(sm: Any) -> None:
    space = sm.describe_space(DomainId=DOMAIN, SpaceName="demo")
    assert space["SpaceArn"] == space_arn("demo")
    assert space["Status"] == "InService"
    settings = space["SpaceSettings"]
    assert settings["AppType"] == "JupyterLab"
    assert settings["RemoteAccess"] == "ENABLED"
    assert settings["JupyterLabAppSettings"]["DefaultResourceSpec"]["InstanceType"] == "ml.t3.large"
    editor = sm.describe_space(DomainId=DOMAIN, SpaceName="editor")["SpaceSettings"]
    assert editor["CodeEditorAppSettings"]["DefaultResourceSpec"]["InstanceType"] == "ml.t3.large"
    assert isinstance(space["CreationTime"], dt.datetime)


def test_timestamps_are_epoch_numbers_on_the_wire(sm: Any) -> None:
    raw: dict[str, Any] = {}

    def grab(http_response: Any, **_: Any) -> None:
        raw["body"] = http_response.content

    sm.meta.events.register("after-call.sagemaker.DescribeSpace", grab)
    sm.describe_space(DomainId=DOMAIN, SpaceName="demo")
    import json

    body = json.loads(raw["body"])
    assert isinstance(body["CreationTime"], float)


def test_pagination_max_results_one(sm: Any) -> None:
    names, token, pages = [], None, 0
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 1, "DomainIdEquals": DOMAIN}
        if token:
            kwargs["NextToken"] = token
        page = sm.list_spaces(**kwargs)
        pages += 1
        assert len(page["Spaces"]) == 1
        names.append(page["Spaces"][0]["SpaceName"])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == len(names) == 6
    assert len(set(names)) == 6
    via_paginator = [
        s["SpaceName"]
        for p in sm.get_paginator("list_spaces").paginate(PaginationConfig={"PageSize": 2})
        for s in p["Spaces"]
    ]
    assert via_paginator == names  # same default order: CreationTime, Descending


def test_sort_order(sm: Any) -> None:
    ascending = [
        s["SpaceName"] for s in sm.list_spaces(SortOrder="Ascending", MaxResults=100)["Spaces"]
    ]
    assert ascending[:3] == ["demo", "editor", "locked"]


def test_invalid_next_token(sm: Any) -> None:
    with pytest.raises(ClientError) as info:
        sm.list_spaces(NextToken="garbage")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    token = sm.list_spaces(MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as info:
        sm.list_apps(NextToken=token)  # a token belongs to its operation
    assert info.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda sm: sm.describe_space(DomainId=DOMAIN, SpaceName="nope"),
            f"Space '{space_arn('nope')}' does not exist.",
        ),
        (
            lambda sm: sm.describe_domain(DomainId="d-nosuchdomain1"),
            "Domain 'arn:aws:sagemaker:us-east-1:123456789012:domain/d-nosuchdomain1' does not exist.",
        ),
        (
            lambda sm: sm.describe_app(
                DomainId=DOMAIN, SpaceName="demo", AppType="JupyterLab", AppName="default"
            ),
            "App 'arn:aws:sagemaker:us-east-1:123456789012:app/d-emulator00001/demo/jupyterlab/default' does not exist.",
        ),
    ],
)
def test_resource_not_found(sm: Any, call: Any, message: str) -> None:
    with pytest.raises(ClientError) as info:
        call(sm)
    error = info.value.response
    assert error["Error"] == {"Code": "ResourceNotFound", "Message": message}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ResourceNotFound"


def test_request_names_must_fullmatch_their_patterns(sm: Any) -> None:
    """A trailing newline is not a valid name: botocore's patterns apply to the whole value."""
    for call, member in (
        (lambda: sm.describe_space(DomainId=DOMAIN, SpaceName="demo\n"), "spaceName"),
        (lambda: sm.describe_domain(DomainId=DOMAIN + "\n"), "domainId"),
    ):
        with pytest.raises(ClientError) as info:
            call()
        error = info.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert (
            f"at '{member}' failed to satisfy constraint: Member must satisfy regular"
            in (error["Message"])
        )
    with pytest.raises(ClientError) as info:
        sm.start_session(ResourceIdentifier=space_arn("demo") + "\n")
    assert info.value.response["Error"]["Code"] == "ValidationException"
