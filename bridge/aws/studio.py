"""The SageMaker Studio slice smconnect needs: find spaces, run their app, open a session.

Synchronous boto3 on purpose: the daemon runs these calls in worker threads, and the CLI can use
the same client directly. Every AWS error is turned into an ``AwsError`` whose message says what
to do; raw ``ClientError`` never escapes. Long waits report progress through a callback.
"""

from __future__ import annotations

import logging
import random
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import botocore.exceptions

from bridge.aws import validate
from bridge.aws.errors import (
    AmbiguousSpace,
    AppNotRunning,
    AppStartFailed,
    AppTimeout,
    AwsError,
    ConfigurationError,
    RemoteAccessDisabled,
    SessionLimitExceeded,
    SessionStartFailed,
    SpaceNotFound,
)
from bridge.aws.idle import IdleState, idle_state_from, idle_timeout
from bridge.aws.session import client_config
from bridge.aws.studio_errors import code_of, message_of, operation_name, translate
from bridge.aws.validate import InvalidResponse

__all__ = ["Progress", "SessionGrant", "Space", "StudioClient"]

log = logging.getLogger(__name__)

APP_NAME = "default"
SUPPORTED_APP_TYPES = ("JupyterLab", "CodeEditor")
_RETRIABLE_SESSION_CODES = frozenset(
    {"InternalFailure", "ThrottlingException", "ServiceUnavailable"}
)
_SESSION_LIMIT_CODES = frozenset({"ResourceLimitExceeded", "ResourceLimitExceededException"})
SESSION_LIMIT = 10  # the service's documented limit of active remote sessions per space

Progress = Callable[[str, str], None]
"""``progress(phase, message)``: phases are ``update``, ``stopping``, ``starting``, ``session``."""

# What to do about an app that failed to start: the FailureReason says which applies (a quota,
# capacity for the instance type, a lifecycle configuration script that failed).
APP_FAILED_HINT = (
    "try again with `smconnect start {name}`; for capacity or a quota, another instance type "
    "(`smconnect open {name} --instance-type ml.t3.large`) or a quota increase in Service "
    "Quotas; a lifecycle configuration's output is in CloudWatch Logs under /aws/sagemaker/studio"
)


def _no_progress(phase: str, message: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Space:
    name: str
    domain_id: str
    arn: str
    status: str
    app_type: str | None
    remote_access: str
    domain_name: str = ""
    instance_type: str | None = None
    app_status: str | None = None  # None: no app (stopped)
    owner: str | None = None
    app_created: str | None = None  # identifies one run of the app (host keys change per run)
    # DescribeApp's LastUserActivityTimestamp of the running app (None: not running / not told)
    last_activity: str | None = None
    # The space's <AppType>AppSettings.AppLifecycleManagement.IdleSettings (None: no idle shutdown)
    idle_timeout_minutes: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.domain_id}/{self.name}"

    @property
    def running(self) -> bool:
        return self.app_status == "InService"


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """What StartSession returns. The token is single-use and never printed."""

    session_id: str
    stream_url: str
    token_value: str = field(repr=False)


class StudioClient:
    def __init__(
        self,
        session: boto3.Session,
        *,
        poll_interval: float = 5.0,
        app_timeout: float = 600.0,
        session_retry_window: float = 90.0,
        sleep: Callable[[float], None] = time.sleep,
        endpoint_url: str | None = None,
    ) -> None:
        self._session = session
        self.poll_interval = poll_interval
        self.app_timeout = app_timeout
        self.session_retry_window = session_retry_window
        self._sleep = sleep
        config = client_config()
        check_endpoint_url(endpoint_url)
        try:
            # endpoint_url=None leaves botocore's own AWS_ENDPOINT_URL* handling in charge.
            self._sm: Any = session.client("sagemaker", config=config, endpoint_url=endpoint_url)
            # StartSession's early InternalFailure is retried here, with progress and our own
            # window; botocore's silent retries would hide it (and cut the wait short).
            self._sm_sessions: Any = session.client(
                "sagemaker", config=client_config(attempts=1), endpoint_url=endpoint_url
            )
            self._ssm: Any = session.client("ssm", config=config, endpoint_url=endpoint_url)
        except (ValueError, botocore.exceptions.BotoCoreError) as exc:
            # botocore checks the region name and the endpoint (flag or AWS_ENDPOINT_URL*) here.
            raise ConfigurationError(
                f"the AWS region or endpoint is not valid: {validate.plain(str(exc), 200)}; "
                "check --region / AWS_REGION and --endpoint-url / AWS_ENDPOINT_URL"
            ) from None
        self.rejected: list[str] = []  # why items of the last listing were left out
        self._domain_names: dict[str, str] = {}  # domain id -> name (shown only), as last seen

    @property
    def region(self) -> str:
        return str(self._session.region_name)

    # -- discovery ------------------------------------------------------------------------

    def list_spaces(self, domain_id: str | None = None) -> list[Space]:
        """Every space the caller can see, across domains, with its app state and instance type."""
        self.rejected = []
        domains: dict[str, str] = {}
        for d in self._paginate("list_domains", "Domains"):
            try:
                domains[validate.domain_id("ListDomains", d.get("DomainId"))] = _domain_name(
                    "ListDomains", d.get("DomainName", "")
                )
            except InvalidResponse as exc:
                self._reject(exc)
        self._domain_names.update(domains)
        filters = {"DomainIdEquals": domain_id} if domain_id else {}
        summaries = []
        for summary in self._paginate("list_spaces", "Spaces", **filters):
            try:
                validate.domain_id("ListSpaces", summary.get("DomainId"))
                validate.resource_name("ListSpaces", "SpaceName", summary.get("SpaceName"))
            except InvalidResponse as exc:
                self._reject(exc)
                continue
            summaries.append(summary)
        apps = self._live_apps(domain_id)
        with ThreadPoolExecutor(max_workers=8) as pool:
            details = list(
                pool.map(lambda s: self._describe_raw(s["DomainId"], s["SpaceName"]), summaries)
            )
            running = [a for a in apps.values() if a.get("Status") == "InService"]
            for app, activity in zip(running, pool.map(self._last_activity, running), strict=True):
                app["LastUserActivityTimestamp"] = activity
        spaces = []
        for detail in details:
            try:
                spaces.append(self._space_from(detail, domains.get(detail["DomainId"], ""), apps))
            except InvalidResponse as exc:
                self._reject(exc)
        return sorted(spaces, key=lambda s: (s.name, s.domain_id))

    def _reject(self, exc: InvalidResponse) -> None:
        """A listed item AWS described invalidly is left out (the others stay usable) and
        remembered in ``rejected`` so the caller can say so."""
        log.warning("%s", exc)
        self.rejected.append(str(exc))

    def resolve_space(self, ref: str) -> Space:
        """``name`` or ``domain-id/name``; a name found in several domains is an error."""
        ref = ref.strip()
        if not ref:
            raise SpaceNotFound("no space name given")
        if "/" in ref:
            domain_id, _, name = ref.partition("/")
            return self.describe_space(domain_id, name)
        matches = [s for s in self.list_spaces() if s.name == ref]
        if not matches:
            raise SpaceNotFound(
                f"no space named {ref!r} in region {self.region}; `smconnect list` shows the spaces you can use"
            )
        if len(matches) > 1:
            raise AmbiguousSpace(ref, [m.ref for m in matches])
        return matches[0]

    def describe_space(self, domain_id: str, name: str, *, activity: bool = True) -> Space:
        """The space as it is now. The calls that do not depend on each other go out at once,
        each a round trip on a long link: DescribeSpace, ListApps (the app's state), and
        DescribeDomain the first time a domain is seen (its name is only shown, so it is kept
        for the client's life). DescribeApp, for the running app's last activity (ListApps
        does not carry it), needs the app from ListApps and follows; ``activity=False`` skips
        it (opening a connection does not need the activity)."""
        with ThreadPoolExecutor(max_workers=3) as pool:
            detail = pool.submit(self._describe_raw, domain_id, name)
            listed = pool.submit(self._live_apps, domain_id, name)
            if domain_id not in self._domain_names:
                pool.submit(self._learn_domain_name, domain_id)
            raw, apps = detail.result(), listed.result()
        if activity:
            for app in apps.values():
                if app.get("Status") == "InService":
                    app["LastUserActivityTimestamp"] = self._last_activity(app)
        return self._space_from(raw, self._domain_names.get(domain_id, ""), apps)

    def _learn_domain_name(self, domain_id: str) -> None:
        """DescribeDomain's name of a domain, remembered; a failure leaves it unnamed (the
        name is only shown) and is asked again next time."""
        try:
            answer = self._call(self._sm.describe_domain, DomainId=domain_id)
            self._domain_names[domain_id] = _domain_name(
                "DescribeDomain", answer.get("DomainName", "")
            )
        except AwsError:
            log.debug("describe_domain failed for %s", domain_id)

    # -- remote access and compute ------------------------------------------------------

    def enable_remote_access(self, space: Space, instance_type: str | None = None) -> Space:
        """Turn RemoteAccess on (and switch the instance type); see ``update_settings``."""
        return self.update_settings(space, remote_access=True, instance_type=instance_type)

    def update_settings(
        self, space: Space, *, remote_access: bool | None = None, instance_type: str | None = None
    ) -> Space:
        """Turn RemoteAccess on (``remote_access``) and/or switch the default instance type.
        A running app must restart before the change applies; the caller decides whether to
        ask the user."""
        self._require_supported(space)
        settings: dict[str, Any] = {}
        if remote_access and space.remote_access != "ENABLED":
            settings["RemoteAccess"] = "ENABLED"
        if instance_type:
            settings[f"{space.app_type}AppSettings"] = {
                "DefaultResourceSpec": {"InstanceType": instance_type}
            }
        if not settings:
            return space
        self._call(
            self._sm.update_space,
            DomainId=space.domain_id,
            SpaceName=space.name,
            SpaceSettings=settings,
        )
        self._wait(
            lambda: self._describe_raw(space.domain_id, space.name)["Status"] == "InService",
            "space update",
            _no_progress,
        )
        return replace(
            space,
            remote_access="ENABLED" if remote_access else space.remote_access,
            instance_type=instance_type or space.instance_type,
        )

    def start_app(
        self,
        space: Space,
        *,
        instance_type: str | None = None,
        progress: Progress = _no_progress,
        timeout: float | None = None,
    ) -> Space:
        """Make the space's app InService: create it if needed, wait through Pending/Deleting."""
        self._require_supported(space)
        deadline = time.monotonic() + (timeout if timeout is not None else self.app_timeout)
        while True:
            status = self._app_status(space)
            if status == "InService":
                progress("starting", "app is running")
                return replace(space, app_status="InService")
            if status == "Failed":
                reason = self._app_failure(space)
                raise AppStartFailed(
                    f"the app of space {space.name!r} failed to start: {reason} "
                    f"(AWS's FailureReason); {APP_FAILED_HINT.format(name=space.name)}"
                )
            if status in (None, "Deleted"):
                spec = instance_type or space.instance_type
                progress(
                    "starting", f"starting the {space.app_type} app ({spec or 'default instance'})"
                )
                params: dict[str, Any] = {
                    "DomainId": space.domain_id,
                    "SpaceName": space.name,
                    "AppType": space.app_type,
                    "AppName": APP_NAME,
                }
                if spec:
                    params["ResourceSpec"] = {"InstanceType": spec}
                self._call(self._sm.create_app, **params)
            elif status == "Deleting":
                progress("starting", "waiting for the previous app to finish stopping")
            else:
                progress("starting", f"app is {status}")
            if time.monotonic() >= deadline:
                raise AppTimeout(
                    f"the app of space {space.name!r} was not running after "
                    f"{timeout or self.app_timeout:.0f} s; raise --timeout or check the space in Studio"
                )
            self._sleep(self.poll_interval)

    def stop_app(
        self, space: Space, *, wait: bool = True, progress: Progress = _no_progress
    ) -> Space:
        self._require_supported(space)
        status = self._app_status(space)
        if status == "Pending":  # DeleteApp answers ResourceInUse until the app is InService
            progress("stopping", "waiting for the app to finish starting before stopping it")
            self._wait(lambda: self._app_status(space) != "Pending", "app start", progress)
            status = self._app_status(space)
        if status in (None, "Deleted"):
            return replace(space, app_status=None)
        if status != "Deleting":
            progress("stopping", f"stopping the app of space {space.name!r}")
            self._call(
                self._sm.delete_app,
                DomainId=space.domain_id,
                SpaceName=space.name,
                AppType=space.app_type,
                AppName=APP_NAME,
            )
        if wait:
            self._wait(
                lambda: self._app_status(space) in (None, "Deleted", "Failed"),
                "app stop",
                progress,
            )
        return replace(space, app_status=None)

    # -- sessions -------------------------------------------------------------------------

    def start_session(self, space: Space, *, progress: Progress = _no_progress) -> SessionGrant:
        """StartSession, retrying the InternalFailure the service answers for a while after the
        app reaches InService (SSM registration is asynchronous), with 1.5x backoff."""
        if space.remote_access != "ENABLED":
            raise RemoteAccessDisabled(
                f"remote access is disabled for space {space.name!r}; "
                f"`smconnect open {space.name}` enables it"
            )
        deadline = time.monotonic() + self.session_retry_window
        attempt = 0
        while True:
            try:
                response = self._sm_sessions.start_session(ResourceIdentifier=space.arn)
            except botocore.exceptions.ClientError as exc:
                code = code_of(exc)
                if code in _RETRIABLE_SESSION_CODES and time.monotonic() < deadline:
                    delay = min(1.0 * 1.5**attempt, 10.0) * random.uniform(0.8, 1.2)
                    attempt += 1
                    progress(
                        "session", f"the space is not ready for sessions yet ({code}); retrying"
                    )
                    self._sleep(delay)
                    continue
                if code in _SESSION_LIMIT_CODES:
                    raise SessionLimitExceeded(space.name, _limit_in(message_of(exc))) from None
                if code == "ValidationException" and "InService" in message_of(exc):
                    raise AppNotRunning(
                        f"space {space.name!r} is not running; `smconnect start {space.name}` starts it"
                    ) from None
                raise self._translate("StartSession", exc) from None
            except botocore.exceptions.BotoCoreError as exc:
                raise self._translate("StartSession", exc) from None
            return _grant(response)

    def try_start_session(self, arn: str) -> SessionGrant | None:
        """One StartSession on a space's ARN alone, sent before the space is described
        (``bridge.daemon.early``): no retry, no progress, and None for any refusal or failure,
        which the description that follows explains (or ``start_session`` meets again)."""
        try:
            response = self._sm_sessions.start_session(ResourceIdentifier=arn)
            return _grant(response)
        except botocore.exceptions.ClientError as exc:
            log.debug("early StartSession refused: %s", code_of(exc))
        except botocore.exceptions.BotoCoreError as exc:
            log.debug("early StartSession failed: %s", type(exc).__name__)
        except InvalidResponse as exc:
            log.warning("%s", exc)
        return None

    def resume_session(self, session_id: str) -> str:
        """A new token for a dropped data channel (ssm:ResumeSession)."""
        response = self._call(self._ssm.resume_session, SessionId=session_id)
        token = response.get("TokenValue")
        if not token:
            raise SessionStartFailed(f"session {session_id} can no longer be resumed (timed out)")
        return validate.token_value("ResumeSession", token)

    def terminate_session(self, session_id: str) -> None:
        """End a session on the service side (it counts against the space's limit until then)."""
        self._call(self._ssm.terminate_session, SessionId=session_id)

    # -- internals ------------------------------------------------------------------------

    def idle_state(self, space: Space) -> IdleState | None:
        """The running app's idle clock (DescribeApp + the space's or domain's IdleSettings);
        None when the app is not running."""
        if self._app_status(space) != "InService":
            return None
        app = self._describe_app(space)
        detail = self._describe_raw(space.domain_id, space.name)
        minutes = idle_timeout(detail)
        if minutes is None:
            domain = self._call(self._sm.describe_domain, DomainId=space.domain_id)
            minutes = idle_timeout(detail, domain)
        return idle_state_from(app, minutes)

    def _require_supported(self, space: Space) -> None:
        if space.app_type not in SUPPORTED_APP_TYPES:
            raise ConfigurationError(
                f"space {space.name!r} has app type {space.app_type or 'none'}; "
                "remote access needs a JupyterLab or CodeEditor space"
            )

    def _describe_raw(self, domain_id: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            self._sm.describe_space, DomainId=domain_id, SpaceName=name
        )
        return result

    def _live_apps(
        self, domain_id: str | None, space_name: str | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Apps that are not Deleted, keyed by (domain id, space name)."""
        filters: dict[str, str] = {}
        if domain_id:
            filters["DomainIdEquals"] = domain_id
        if space_name:
            filters["SpaceNameEquals"] = space_name
        apps: dict[tuple[str, str], dict[str, Any]] = {}
        for app in self._paginate("list_apps", "Apps", **filters):
            if app.get("AppName") != APP_NAME or app.get("Status") == "Deleted":
                continue
            if app.get("AppType") not in SUPPORTED_APP_TYPES or "SpaceName" not in app:
                continue
            apps[(app["DomainId"], app["SpaceName"])] = app
        return apps

    def _last_activity(self, app: dict[str, Any]) -> Any:
        """DescribeApp's LastUserActivityTimestamp (ListApps does not carry it); None when
        the call fails: activity is shown, never needed."""
        try:
            detail = self._sm.describe_app(
                DomainId=app["DomainId"],
                SpaceName=app["SpaceName"],
                AppType=app["AppType"],
                AppName=APP_NAME,
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            log.info("DescribeApp for the activity of %s failed: %s", app["SpaceName"], exc)
            return None
        return detail.get("LastUserActivityTimestamp")

    def _app_status(self, space: Space) -> str | None:
        try:
            app = self._sm.describe_app(
                DomainId=space.domain_id,
                SpaceName=space.name,
                AppType=space.app_type,
                AppName=APP_NAME,
            )
        except botocore.exceptions.ClientError as exc:
            if code_of(exc) in ("ResourceNotFound", "ResourceNotFoundException"):
                return None
            raise self._translate("DescribeApp", exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._translate("DescribeApp", exc) from None
        status = app.get("Status")
        return validate.app_status("DescribeApp", status) if status else None

    def _describe_app(self, space: Space) -> dict[str, Any]:
        app: dict[str, Any] = self._call(
            self._sm.describe_app,
            DomainId=space.domain_id,
            SpaceName=space.name,
            AppType=space.app_type,
            AppName=APP_NAME,
        )
        return app

    def _app_failure(self, space: Space) -> str:
        app = self._describe_app(space)
        return validate.plain(str(app.get("FailureReason") or "no reason given"))

    def _space_from(
        self, detail: dict[str, Any], domain_name: str, apps: dict[tuple[str, str], dict[str, Any]]
    ) -> Space:
        """A ``Space`` from DescribeSpace (+ its live app), every kept string validated."""
        op = "DescribeSpace"
        name = validate.resource_name(op, "SpaceName", detail.get("SpaceName"))
        domain = validate.domain_id(op, detail.get("DomainId"))
        settings = detail.get("SpaceSettings") or {}
        app_type = settings.get("AppType")
        if app_type is not None:
            app_type = validate.app_type(op, app_type)
        app_settings = settings.get(f"{app_type}AppSettings") or {}
        instance = (app_settings.get("DefaultResourceSpec") or {}).get("InstanceType")
        app = apps.get((domain, name))
        if app is not None:
            instance = (app.get("ResourceSpec") or {}).get("InstanceType") or instance
        owner = (detail.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
        app_status = app.get("Status") if app else None
        idle = (app_settings.get("AppLifecycleManagement") or {}).get("IdleSettings") or {}
        activity = app.get("LastUserActivityTimestamp") if app else None
        return Space(
            name=name,
            domain_id=domain,
            arn=validate.space_arn(op, detail.get("SpaceArn")),
            status=validate.space_status(op, detail["Status"])
            if detail.get("Status")
            else "Unknown",
            app_type=app_type,
            remote_access=validate.feature_status(
                op, "RemoteAccess", settings.get("RemoteAccess") or "DISABLED"
            ),
            domain_name=domain_name,
            instance_type=validate.instance_type(op, instance) if instance else None,
            app_status=validate.app_status("ListApps", app_status) if app_status else None,
            owner=validate.resource_name(op, "OwnerUserProfileName", owner) if owner else None,
            app_created=str(app["CreationTime"]) if app and app.get("CreationTime") else None,
            last_activity=str(activity) if activity else None,
            idle_timeout_minutes=validate.idle_minutes(op, idle.get("IdleTimeoutInMinutes")),
        )

    def _wait(self, done: Callable[[], bool], what: str, progress: Progress) -> None:
        deadline = time.monotonic() + self.app_timeout
        while not done():
            if time.monotonic() >= deadline:
                raise AppTimeout(f"{what} did not finish within {self.app_timeout:.0f} s")
            self._sleep(self.poll_interval)

    def _paginate(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        try:
            for page in self._sm.get_paginator(operation).paginate(**params):
                yield from page.get(key, [])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self._translate(operation_name(operation), exc) from None

    def _call(self, method: Callable[..., Any], **params: Any) -> Any:
        try:
            return method(**params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self._translate(operation_name(method.__name__), exc) from None

    def _translate(self, operation: str, exc: Exception) -> AwsError:
        return translate(
            operation, exc, endpoint_url=self._sm.meta.endpoint_url, region=self.region
        )


def _grant(response: dict[str, Any]) -> SessionGrant:
    """StartSession's answer, validated."""
    return SessionGrant(
        session_id=validate.session_id("StartSession", response.get("SessionId")),
        stream_url=validate.stream_url("StartSession", response.get("StreamUrl")),
        token_value=validate.token_value("StartSession", response.get("TokenValue")),
    )


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


def _domain_name(operation: str, value: object) -> str:
    return validate.resource_name(operation, "DomainName", value) if value else ""


def _limit_in(message: str) -> int:
    """The limit a ResourceLimitExceeded message states (a small number in it), else the
    documented one: the message is the service's text, so only a plain number is taken."""
    match = re.search(r"\b([1-9][0-9]{0,3})\b", message)
    return int(match.group(1)) if match else SESSION_LIMIT
