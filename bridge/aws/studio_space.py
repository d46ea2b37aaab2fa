"""What Studio says about a space and a session, validated before it is kept.

``Space`` and ``SessionGrant`` are what the rest of smconnect sees of SageMaker's answers. They
are built here, from DescribeSpace/ListApps and StartSession, with every kept string checked
(``bridge.aws.validate``), so a malformed or hostile answer is refused in one place whichever
call brought it. No boto3 here: the client (``bridge.aws.studio``) makes the calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bridge.aws import validate

__all__ = [
    "APP_NAME",
    "SESSION_LIMIT",
    "SUPPORTED_APP_TYPES",
    "SessionGrant",
    "Space",
    "domain_name",
    "grant_from",
    "session_limit_in",
    "space_from",
]

APP_NAME = "default"
SUPPORTED_APP_TYPES = ("JupyterLab", "CodeEditor")
SESSION_LIMIT = 10  # the service's documented limit of active remote sessions per space


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


def space_from(
    detail: dict[str, Any], domain_name: str, apps: dict[tuple[str, str], dict[str, Any]]
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
        status=validate.space_status(op, detail["Status"]) if detail.get("Status") else "Unknown",
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


def grant_from(response: dict[str, Any]) -> SessionGrant:
    """StartSession's answer, validated."""
    return SessionGrant(
        session_id=validate.session_id("StartSession", response.get("SessionId")),
        stream_url=validate.stream_url("StartSession", response.get("StreamUrl")),
        token_value=validate.token_value("StartSession", response.get("TokenValue")),
    )


def domain_name(operation: str, value: object) -> str:
    """A domain's name as ListDomains or DescribeDomain gives it ("" when it has none)."""
    return validate.resource_name(operation, "DomainName", value) if value else ""


def session_limit_in(message: str) -> int:
    """The limit a ResourceLimitExceeded message states (a small number in it), else the
    documented one: the message is the service's text, so only a plain number is taken."""
    match = re.search(r"\b([1-9][0-9]{0,3})\b", message)
    return int(match.group(1)) if match else SESSION_LIMIT
