"""Rendering answers in the two wire protocols: awsJson1_1 (SageMaker, SSM) and query/XML (STS)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from bridge.emulator.control.errors import ApiError
from bridge.emulator.control.sigv4 import sts_code

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


def json_response(data: dict[str, Any]) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(),
        headers={"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())},
    )


def json_error(error: ApiError) -> web.Response:
    body = {"__type": error.code, "message": error.message}
    return web.Response(
        status=error.status,
        body=json.dumps(body).encode(),
        headers={
            "Content-Type": JSON_CONTENT_TYPE,
            "x-amzn-RequestId": str(uuid.uuid4()),
            "x-amzn-ErrorType": error.code,
        },
    )


def query_response(action: str, result: Mapping[str, Any]) -> web.Response:
    request_id = str(uuid.uuid4())
    fields = _xml_fields(result)
    body = (
        f'<{action}Response xmlns="{STS_NAMESPACE}">'
        f"<{action}Result>{fields}</{action}Result>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return web.Response(
        body=body.encode(),
        headers={"Content-Type": "text/xml", "x-amzn-RequestId": request_id},
    )


def query_error(error: ApiError) -> web.Response:
    request_id = str(uuid.uuid4())
    body = (
        f'<ErrorResponse xmlns="{STS_NAMESPACE}"><Error>'
        f"<Type>{'Sender' if error.sender else 'Receiver'}</Type>"
        f"<Code>{escape(sts_code(error.code))}</Code>"
        f"<Message>{escape(error.message)}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return web.Response(
        status=error.status,
        body=body.encode(),
        headers={"Content-Type": "text/xml", "x-amzn-RequestId": request_id},
    )


def _xml_fields(result: Mapping[str, Any]) -> str:
    """Members as elements; a nested mapping (STS ``Credentials``) as a nested element."""
    return "".join(
        f"<{k}>{_xml_fields(v) if isinstance(v, Mapping) else escape(str(v))}</{k}>"
        for k, v in result.items()
    )
