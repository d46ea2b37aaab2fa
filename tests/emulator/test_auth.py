"""SigV4: the emulator recomputes each signature and answers auth failures as AWS does."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bridge.emulator import EmulatorThread

from .emulator_helpers import client

SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


def _error(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@pytest.mark.parametrize("service", ["sagemaker", "ssm"])
def test_wrong_secret_is_invalid_signature(emu: EmulatorThread, service: str) -> None:
    c = client(emu, service, secret="not-the-secret")
    call = c.list_spaces if service == "sagemaker" else lambda: c.resume_session(SessionId="s-1")
    assert _error(call) == ("InvalidSignatureException", SIGNATURE_MESSAGE, 403)


def test_unknown_access_key_is_unrecognized_client(emu: EmulatorThread) -> None:
    sm = client(emu, "sagemaker", key="AKIAUNKNOWNKEY000001")
    code, message, _ = _error(sm.list_domains)
    assert (code, message) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_expired_session_token(emu: EmulatorThread) -> None:
    sm = client(emu, "sagemaker", key="ASIAEMULATOREXPIRED1", secret="expiredSecret", token="tok-2")
    code, message, _ = _error(sm.list_domains)
    assert (code, message) == (
        "ExpiredTokenException",
        "The security token included in the request is expired",
    )


def test_session_token_must_match(emu: EmulatorThread) -> None:
    good = client(
        emu, "sagemaker", key="ASIAEMULATORSESSION1", secret="sessionSecret", token="tok-1"
    )
    assert good.list_domains()["Domains"]
    bad = client(emu, "sagemaker", key="ASIAEMULATORSESSION1", secret="sessionSecret", token="x")
    assert _error(bad.list_domains)[0] == "UnrecognizedClientException"
    missing = client(emu, "sagemaker", key="ASIAEMULATORSESSION1", secret="sessionSecret")
    assert _error(missing.list_domains)[0] == "UnrecognizedClientException"


def test_wrong_region_scope(emu: EmulatorThread) -> None:
    sm = client(emu, "sagemaker", region="eu-west-1")
    code, message, _ = _error(sm.list_domains)
    assert code == "InvalidSignatureException"
    assert message.startswith("Credential should be scoped to a valid region.")


def test_unsigned_request(emu: EmulatorThread) -> None:
    request = urllib.request.Request(
        emu.endpoint_url + "/",
        data=b"{}",
        headers={
            "X-Amz-Target": "SageMaker.ListDomains",
            "Content-Type": "application/x-amz-json-1.1",
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 403
    assert info.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_sts_get_caller_identity(emu: EmulatorThread) -> None:
    identity = client(emu, "sts").get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert identity["Arn"] == "arn:aws:iam::123456789012:user/smconnect-emulator"
    assert identity["UserId"].startswith("AIDA")


@pytest.mark.parametrize(
    ("overrides", "code", "status"),
    [
        ({"secret": "wrong"}, "SignatureDoesNotMatch", 403),
        ({"key": "AKIAUNKNOWNKEY000001"}, "InvalidClientTokenId", 403),
        (
            {"key": "ASIAEMULATOREXPIRED1", "secret": "expiredSecret", "token": "tok-2"},
            "ExpiredToken",
            400,
        ),
    ],
)
def test_sts_failures_use_query_protocol_codes(
    emu: EmulatorThread, overrides: dict[str, str], code: str, status: int
) -> None:
    sts = client(emu, "sts", **overrides)
    got_code, _, got_status = _error(sts.get_caller_identity)
    assert (got_code, got_status) == (code, status)
