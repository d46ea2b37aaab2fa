"""One HTTP endpoint for SageMaker, SSM, STS, sso-oidc and sso, like moto's server mode:
requests are routed by X-Amz-Target (awsJson1_1), by method and path (the rest-json identity
services, unsigned) or by the form's Action (STS query protocol); signed requests are
authenticated with SigV4 against the configured and the issued credentials."""

from __future__ import annotations

import json
import logging
import socket
import ssl
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bridge.emulator.config import CredentialConfig
from bridge.emulator.control import pricing, sagemaker, ssm, sso, sts
from bridge.emulator.control.errors import ApiError, internal_failure
from bridge.emulator.control.plane import ControlPlane
from bridge.emulator.control.sagemaker import Handler
from bridge.emulator.control.sigv4 import Received, verify
from bridge.emulator.control.wire import json_error, json_response, query_error, query_response

log = logging.getLogger(__name__)

_JSON_SERVICES: dict[str, tuple[str, dict[str, Handler]]] = {
    "SageMaker": ("sagemaker", sagemaker.OPERATIONS),
    "AmazonSSM": ("ssm", ssm.OPERATIONS),
    "AWSPriceListService": ("pricing", pricing.OPERATIONS),
}
# The Price List API answers only in these regions (botocore's api.pricing endpoints); clients
# elsewhere sign for the partition's main one, so the emulator checks the signature against it.
PRICING_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1", "cn-northwest-1")


class ControlServer:
    def __init__(
        self,
        plane: ControlPlane,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.plane = plane
        self._host = host
        self._port = port
        self._tls = tls  # HTTPS with this server context, as the service's endpoints
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "http" if self._tls is None else "https"
        return f"{scheme}://{self._host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            site = web.SockSite(runner, sock, ssl_context=self._tls)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- dispatch ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        target = request.headers.get("X-Amz-Target")
        if target is not None:
            return self._json_call(request, body, target)
        rest = sso.OPERATIONS.get((request.method, request.path))
        if rest is not None:
            return self._rest_call(request, body, *rest)
        if request.path == "/device" and request.method in ("GET", "POST"):
            return await self._device_page(request, body)
        return self._query_call(request, body)

    def _rest_call(
        self, request: web.Request, body: bytes, operation: str, handler: sso.RestHandler
    ) -> web.Response:
        try:
            call = sso.RestCall(
                body=_json_params(body),
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                base_url=f"{request.scheme}://{request.host}",
                account_id=self.plane.account.account_id,
            )
            result = handler(self.plane.issuer, call)
        except ApiError as exc:
            log.info("%s -> %s", operation, exc.code)
            return sso.rest_error(exc)
        except Exception:
            log.exception("%s failed", operation)
            return sso.rest_error(internal_failure())
        log.info("%s -> 200", operation)
        return sso.rest_response(result)

    async def _device_page(self, request: web.Request, body: bytes) -> web.Response:
        form = dict(parse_qsl(body.decode("utf-8", "replace"))) if request.method == "POST" else {}
        user_code = form.get("user_code") or request.query.get("user_code", "")
        approved = False
        if request.method == "POST":
            try:
                self.plane.approve_device(user_code)
                approved = True
            except KeyError:
                pass
        return sso.verification_page(self.plane.issuer, user_code, approved)

    def _json_call(self, request: web.Request, body: bytes, target: str) -> web.Response:
        prefix, _, operation = target.partition(".")
        service = _JSON_SERVICES.get(prefix)
        try:
            if service is None:
                raise ApiError("UnknownOperationException", f"Unknown operation {target}")
            signing_name, operations = service
            self._authenticate(request, body, signing_name, self._signing_region(signing_name))
            handler = operations.get(operation)
            if handler is None:
                raise ApiError("UnknownOperationException", f"Unknown operation {target}")
            params = _json_params(body)
            result = handler(self.plane, params)
        except ApiError as exc:
            log.info("%s -> %s", target, exc.code)
            return json_error(exc)
        except Exception:
            log.exception("%s failed", target)
            return json_error(internal_failure())
        log.info("%s -> 200", target)
        return json_response(result)

    def _query_call(self, request: web.Request, body: bytes) -> web.Response:
        params = dict(parse_qsl(request.rel_url.raw_query_string))
        if request.content_type == "application/x-www-form-urlencoded":
            params.update(parse_qsl(body.decode("utf-8", "replace")))
        action = params.get("Action")
        try:
            if action is None:
                raise ApiError("MissingAction", "Missing Action")
            cred = self._authenticate(request, body, "sts")
            account_id = self.plane.account.account_id
            result: dict[str, Any]
            if action == "GetCallerIdentity":
                result = sts.caller_identity(cred, account_id)
            elif action == "AssumeRole":
                result = sts.assume_role(self.plane.issuer, cred, params, account_id)
            elif action == "GetSessionToken":
                result = sts.get_session_token(self.plane.issuer, cred, params, account_id)
            else:
                raise ApiError(
                    "InvalidAction", f"Could not find operation {action} for version 2011-06-15"
                )
        except ApiError as exc:
            log.info("sts %s -> %s", action, exc.code)
            return query_error(exc)
        except Exception:
            log.exception("sts %s failed", action)
            return query_error(internal_failure())
        log.info("sts %s -> 200", action)
        return query_response(action, result)

    def _signing_region(self, service: str) -> str:
        region = self.plane.account.region
        if service != "pricing" or region in PRICING_REGIONS:
            return region
        return "cn-northwest-1" if region.startswith("cn-") else "us-east-1"

    def _authenticate(
        self, request: web.Request, body: bytes, service: str, region: str | None = None
    ) -> CredentialConfig:
        path, _, query = request.raw_path.partition("?")
        received = Received(
            method=request.method,
            path=path,
            query=query,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers],
            body=body,
        )
        return verify(
            received,
            self.plane.credentials,
            region=region or self.plane.account.region,
            service=service,
            now=self.plane.issuer.clock.now(),
        )


def _json_params(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError("SerializationException", "The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object.")
    return params
