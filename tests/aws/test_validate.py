"""Strings from AWS responses are checked against the service's documented patterns."""

from __future__ import annotations

import pytest

from bridge.aws import validate
from bridge.aws.validate import InvalidResponse

HOSTILE = [
    "demo\nHost victim.example\n  ProxyCommand touch /tmp/pwned",
    "demo\n",
    "de mo",
    "demo;rm -rf ~",
    "$(id)",
    "demo\x1b]0;owned\x07",
    "\x1b[31mred",
    "a" * 64,
    "-demo",
    "démo",
    "",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_resource_names_refuse_hostile_values(value: str) -> None:
    with pytest.raises(InvalidResponse) as info:
        validate.resource_name("ListSpaces", "SpaceName", value)
    message = str(info.value)
    assert "SpaceName" in message and "ListSpaces" in message
    assert "\n" not in message and "\x1b" not in message and "\x07" not in message


@pytest.mark.parametrize("value", ["demo", "a", "my-space-2", "A--b", "a" * 63])
def test_resource_names_accept_documented_values(value: str) -> None:
    assert validate.resource_name("ListSpaces", "SpaceName", value) == value


@pytest.mark.parametrize("value", ["d-abc123", "d-x", "d-a-b"])
def test_domain_ids(value: str) -> None:
    assert validate.domain_id("ListDomains", value) == value


@pytest.mark.parametrize("value", ["d-abc\n", "d-ABC", "abc", "d-", "d-abc\nHost x", 7, None])
def test_domain_ids_refused(value: object) -> None:
    with pytest.raises(InvalidResponse, match="DomainId"):
        validate.domain_id("ListDomains", value)


def test_space_arn() -> None:
    good = "arn:aws:sagemaker:us-east-1:123456789012:space/d-abc/demo"
    assert validate.space_arn("DescribeSpace", good) == good
    for bad in (
        good + "\n",
        good.replace("space/", "space/ x"),
        "arn:aws:s3:::bucket",
        good + "x" * 300,
    ):
        with pytest.raises(InvalidResponse, match="SpaceArn"):
            validate.space_arn("DescribeSpace", bad)


def test_enumerations() -> None:
    assert validate.app_type("DescribeSpace", "JupyterLab") == "JupyterLab"
    assert validate.app_status("DescribeApp", "InService") == "InService"
    assert validate.feature_status("DescribeSpace", "RemoteAccess", "ENABLED") == "ENABLED"
    with pytest.raises(InvalidResponse, match="AppType"):
        validate.app_type("DescribeSpace", "JupyterLab\n")
    with pytest.raises(InvalidResponse, match="RemoteAccess"):
        validate.feature_status("DescribeSpace", "RemoteAccess", "enabled")


def test_instance_types() -> None:
    assert validate.instance_type("DescribeSpace", "ml.t3.large") == "ml.t3.large"
    for bad in ("ml.t3.large\n", "ml.t3.large; id", "t3.large", "ml." + "a" * 80):
        with pytest.raises(InvalidResponse, match="InstanceType"):
            validate.instance_type("DescribeSpace", bad)


def test_session_fields_never_show_the_secret() -> None:
    assert validate.session_id("StartSession", "alice-0123456789abcdef") == "alice-0123456789abcdef"
    with pytest.raises(InvalidResponse, match="SessionId"):
        validate.session_id("StartSession", "alice\n-01")
    with pytest.raises(InvalidResponse) as info:
        validate.token_value("StartSession", "secret-token\nwith newline")
    assert "secret-token" not in str(info.value)
    assert validate.stream_url("StartSession", "wss://ssmmessages.us-east-1.amazonaws.com/v1/x?a=b")
    assert validate.stream_url("StartSession", "ws://127.0.0.1:4242/v1/data-channel/s-1")
    with pytest.raises(InvalidResponse) as info:
        validate.stream_url("StartSession", "ws://evil.example/v1/x?token=secret")
    assert "secret" not in str(info.value)
    with pytest.raises(InvalidResponse):
        validate.stream_url("StartSession", "wss://host/v1/\nx")


def test_printable_escapes_and_truncates() -> None:
    assert validate.printable("a\nb\x1b[0m") == "'a\\nb\\x1b[0m'"
    long = validate.printable("x" * 500)
    assert long.endswith("(500 characters)") and len(long) < 120
    assert validate.plain("bad \x1b[2J thing\n") == "bad \\x1b[2J thing\\n"
    assert validate.plain("Could not find app 'x'") == "Could not find app 'x'"
