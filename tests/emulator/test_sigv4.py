"""sigv4.verify on requests signed by botocore itself, at controlled times, and raw requests
to the endpoint for the routing errors."""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bridge.emulator import EmulatorThread
from bridge.emulator.config import CredentialConfig
from bridge.emulator.control.errors import ApiError
from bridge.emulator.control.sigv4 import Received, verify

CRED = CredentialConfig("AKIAEMULATOR00000001", "secret")


def _signed(
    service: str = "sagemaker", body: bytes = b"{}", url: str = "http://127.0.0.1:8080/"
) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"X-Amz-Target": "SageMaker.ListDomains", "Host": "127.0.0.1:8080"},
    )
    SigV4Auth(
        Credentials(CRED.access_key_id, CRED.secret_access_key), service, "us-east-1"
    ).add_auth(request)
    return request


def _received(request: AWSRequest, body: bytes | None = None) -> Received:
    path, _, query = request.url.split("127.0.0.1:8080", 1)[1].partition("?")
    return Received(
        method=request.method,
        path=path,
        query=query,
        headers=list(request.headers.items()),
        body=request.body if body is None else body,
    )


def _verify(
    received: Received, now: dt.datetime | None = None, service: str = "sagemaker"
) -> CredentialConfig:
    return verify(
        received,
        {CRED.access_key_id: CRED},
        region="us-east-1",
        service=service,
        now=now or dt.datetime.now(dt.UTC),
    )


def test_a_botocore_signature_verifies() -> None:
    assert _verify(_received(_signed())) == CRED
    with_query = _signed(url="http://127.0.0.1:8080/a%20b/?b=2&a=1")
    assert _verify(_received(with_query)) == CRED


def test_a_changed_body_does_not_verify() -> None:
    with pytest.raises(ApiError) as info:
        _verify(_received(_signed(), body=b'{"MaxResults": 1}'))
    assert info.value.code == "InvalidSignatureException"


def test_clock_skew() -> None:
    received = _received(_signed())
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)
    with pytest.raises(ApiError) as info:
        _verify(received, now=later)
    assert info.value.message.startswith("Signature expired: ")
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    with pytest.raises(ApiError) as info:
        _verify(received, now=earlier)
    assert info.value.message.startswith("Signature not yet current: ")


def test_wrong_service_scope() -> None:
    with pytest.raises(ApiError) as info:
        _verify(_received(_signed(service="ssm")))
    assert info.value.message == "Credential should be scoped to correct service: 'sagemaker'. "


def _raw(
    emu: EmulatorThread, body: bytes, headers: dict[str, str], service: str
) -> urllib.error.HTTPError:
    env = emu.env
    request = AWSRequest(method="POST", url=emu.endpoint_url + "/", data=body, headers=headers)
    creds = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(creds, service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(
        prepared.url, data=prepared.body, headers=dict(prepared.headers.items()), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(raw, timeout=10)
    return info.value


def test_unknown_operations(emu: EmulatorThread) -> None:
    error = _raw(
        emu,
        b"{}",
        {"X-Amz-Target": "SageMaker.CreateDomain", "Content-Type": "application/x-amz-json-1.1"},
        "sagemaker",
    )
    assert (error.code, error.headers["x-amzn-ErrorType"]) == (400, "UnknownOperationException")
    error = _raw(
        emu,
        b"Action=AssumeRoleWithSAML&Version=2011-06-15",
        {"Content-Type": "application/x-www-form-urlencoded"},
        "sts",
    )
    assert error.code == 400
    assert b"<Code>InvalidAction</Code>" in error.read()
