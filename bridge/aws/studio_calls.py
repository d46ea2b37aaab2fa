"""The boto3 clients the Studio client calls through, every failure already one of ours.

Shared by the space lookups (``bridge.aws.studio_lookup``) and the lifecycle and session calls
(``bridge.aws.studio``), so both reach AWS the same way: ``call`` and ``paginate`` turn any
botocore error into an ``AwsError`` whose message says what to do (``studio_errors``).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.exceptions

from bridge.aws import validate
from bridge.aws.errors import AwsError, ConfigurationError
from bridge.aws.session import client_config
from bridge.aws.studio_errors import operation_name, translate

__all__ = ["StudioCalls", "check_endpoint_url"]


class StudioCalls:
    """SageMaker and SSM clients of one boto3 session (``sm``, ``ssm``), plus ``sm_sessions``
    for StartSession alone, without botocore's retries."""

    def __init__(self, session: boto3.Session, *, endpoint_url: str | None = None) -> None:
        self._session = session
        config = client_config()
        check_endpoint_url(endpoint_url)
        try:
            # endpoint_url=None leaves botocore's own AWS_ENDPOINT_URL* handling in charge.
            self.sm: Any = session.client("sagemaker", config=config, endpoint_url=endpoint_url)
            # StartSession's early InternalFailure is retried by the client, with progress and
            # its own window; botocore's silent retries would hide it (and cut the wait short).
            self.sm_sessions: Any = session.client(
                "sagemaker", config=client_config(attempts=1), endpoint_url=endpoint_url
            )
            self.ssm: Any = session.client("ssm", config=config, endpoint_url=endpoint_url)
        except (ValueError, botocore.exceptions.BotoCoreError) as exc:
            # botocore checks the region name and the endpoint (flag or AWS_ENDPOINT_URL*) here.
            raise ConfigurationError(
                f"the AWS region or endpoint is not valid: {validate.plain(str(exc), 200)}; "
                "check --region / AWS_REGION and --endpoint-url / AWS_ENDPOINT_URL"
            ) from None

    @property
    def region(self) -> str:
        return str(self._session.region_name)

    def paginate(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        try:
            for page in self.sm.get_paginator(operation).paginate(**params):
                yield from page.get(key, [])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self.translate(operation_name(operation), exc) from None

    def call(self, method: Callable[..., Any], **params: Any) -> Any:
        try:
            return method(**params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self.translate(operation_name(method.__name__), exc) from None

    def translate(self, operation: str, exc: Exception) -> AwsError:
        return translate(operation, exc, endpoint_url=self.sm.meta.endpoint_url, region=self.region)


def check_endpoint_url(url: str | None) -> None:
    """An endpoint we are told to use must be an http(s) URL with a host; botocore would
    accept some others and fail later with an unhelpful error."""
    if url is None:
        return
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"--endpoint-url {validate.printable(url)} is not an http:// or https:// URL"
        )
