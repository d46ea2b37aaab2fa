"""The SageMaker operations a Studio remote-access client uses (awsJson1_1, target prefix
"SageMaker."). Shapes follow botocore's sagemaker-2017-07-24 model; error texts are documented
in docs/design/emulator.md."""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from bridge.emulator.config_check import DOMAIN_ID_PATTERN, NAME_PATTERN
from bridge.emulator.control.errors import (
    ApiError,
    in_use,
    internal_failure,
    limit_exceeded,
    not_found,
    pattern_error,
    required,
    validation,
)
from bridge.emulator.control.idle import domain_lifecycle, parse_space_idle, space_lifecycle
from bridge.emulator.control.pagination import paginate
from bridge.emulator.control.plane import ControlPlane, SessionRecord
from bridge.emulator.control.state import App, Domain, Space

Handler = Callable[[ControlPlane, dict[str, Any]], dict[str, Any]]
T = TypeVar("T")

IMAGE_ARN = "arn:aws:sagemaker:{region}:081325390199:image/sagemaker-distribution-cpu"
IMAGE_VERSION_ALIAS = "3.2.0"
_SPACE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"space/(?P<domain>d-[a-z0-9-]+)/(?P<space>[A-Za-z0-9-]+)"
)
# Request members checked against botocore's patterns (fullmatch), as AWS's request validation
# does before any lookup.
_PATTERNS = {
    "DomainId": DOMAIN_ID_PATTERN,
    "DomainIdEquals": DOMAIN_ID_PATTERN,
    "SpaceName": NAME_PATTERN,
    "SpaceNameEquals": NAME_PATTERN,
    "AppName": NAME_PATTERN,
    "UserProfileName": NAME_PATTERN,
    "UserProfileNameEquals": NAME_PATTERN,
}
_APP_TYPES = ("JupyterServer", "KernelGateway", "DetailedProfiler", "TensorBoard", "CodeEditor",
              "JupyterLab", "RStudioServerPro", "RSessionGateway", "Canvas")  # fmt: skip


# -- discovery ---------------------------------------------------------------------------


def list_domains(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    domains = sorted(plane.account.domains.values(), key=lambda d: d.created)
    page, token = paginate(domains, params, "ListDomains")
    return _with_token(
        {
            "Domains": [
                {
                    "DomainArn": d.arn,
                    "DomainId": d.id,
                    "DomainName": d.name,
                    "Status": "InService",
                    "CreationTime": d.created,
                    "LastModifiedTime": d.created,
                    "Url": _domain_url(plane, d),
                }
                for d in page
            ]
        },
        token,
    )


def describe_domain(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    domain = _domain(plane, _str(params, "DomainId"))
    account = plane.account.account_id
    lifecycle = domain_lifecycle(domain)
    return {
        "DomainArn": domain.arn,
        "DomainId": domain.id,
        "DomainName": domain.name,
        "HomeEfsFileSystemId": "fs-0emulator0000001",
        "Status": "InService",
        "CreationTime": domain.created,
        "LastModifiedTime": domain.created,
        "AuthMode": "IAM",
        "AppNetworkAccessType": "PublicInternetOnly",
        "DefaultUserSettings": {
            "ExecutionRole": f"arn:aws:iam::{account}:role/service-role/SageMakerEmulatorExecutionRole",
            "JupyterLabAppSettings": lifecycle,
            "CodeEditorAppSettings": lifecycle,
        },
        "DefaultSpaceSettings": {
            "ExecutionRole": f"arn:aws:iam::{account}:role/service-role/SageMakerEmulatorExecutionRole",
            "JupyterLabAppSettings": lifecycle,
        },
        "SubnetIds": ["subnet-0emulator00000001"],
        "VpcId": "vpc-0emulator00000001",
        "Url": _domain_url(plane, domain),
    }


def list_user_profiles(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    domain_id = _opt_str(params, "DomainIdEquals")
    contains = _opt_str(params, "UserProfileNameContains")
    profiles = [
        p
        for d in _domains(plane, domain_id)
        for p in d.user_profiles.values()
        if contains is None or contains in p.name
    ]
    profiles = _sorted(profiles, params, {"CreationTime": lambda p: p.created,
                                          "LastModifiedTime": lambda p: p.created})  # fmt: skip
    page, token = paginate(profiles, params, "ListUserProfiles")
    return _with_token(
        {
            "UserProfiles": [
                {
                    "DomainId": p.domain_id,
                    "UserProfileName": p.name,
                    "Status": "InService",
                    "CreationTime": p.created,
                    "LastModifiedTime": p.created,
                }
                for p in page
            ]
        },
        token,
    )


def list_spaces(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    domain_id = _opt_str(params, "DomainIdEquals")
    contains = _opt_str(params, "SpaceNameContains")
    spaces = [
        s
        for d in _domains(plane, domain_id)
        for s in d.spaces.values()
        if contains is None or contains in s.name
    ]
    spaces = _sorted(spaces, params, {"CreationTime": lambda s: s.created,
                                      "LastModifiedTime": lambda s: s.modified})  # fmt: skip
    page, token = paginate(spaces, params, "ListSpaces")
    return _with_token(
        {
            "Spaces": [
                {
                    "DomainId": s.domain_id,
                    "SpaceName": s.name,
                    "Status": s.status,
                    "CreationTime": s.created,
                    "LastModifiedTime": s.modified,
                    "SpaceSettingsSummary": {
                        "AppType": s.app_type,
                        "RemoteAccess": s.remote_access,
                        "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}},
                    },
                    "SpaceSharingSettingsSummary": {"SharingType": s.sharing},
                    "OwnershipSettingsSummary": {"OwnerUserProfileName": s.owner},
                    "SpaceDisplayName": s.display,
                }
                for s in page
            ]
        },
        token,
    )


def describe_space(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    space = _space(plane, _str(params, "DomainId"), _str(params, "SpaceName"))
    return {
        "DomainId": space.domain_id,
        "SpaceArn": space.arn,
        "SpaceName": space.name,
        "HomeEfsFileSystemUid": "200005",
        "Status": space.status,
        "CreationTime": space.created,
        "LastModifiedTime": space.modified,
        "SpaceSettings": {
            "AppType": space.app_type,
            "RemoteAccess": space.remote_access,
            f"{space.app_type}AppSettings": {
                "DefaultResourceSpec": _resource_spec(plane, space.instance_type),
                **space_lifecycle(space),
            },
            "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}},
        },
        "OwnershipSettings": {"OwnerUserProfileName": space.owner},
        "SpaceSharingSettings": {"SharingType": space.sharing},
        "SpaceDisplayName": space.display,
    }


def update_space(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    """Changes apply to the space at once and to a running app's sessions only after the app
    restarts: an App keeps the RemoteAccess and instance type it started with."""
    space = _space(plane, _str(params, "DomainId"), _str(params, "SpaceName"))
    if space.status == "Updating":
        raise in_use(f"Space '{space.arn}' is being updated. Retry when its status is InService.")
    settings = params.get("SpaceSettings") or {}
    if not isinstance(settings, dict):
        raise validation("SpaceSettings must be a structure.")
    app_type = settings.get("AppType")
    if app_type is not None and app_type != space.app_type:
        raise validation(
            f"The AppType of space '{space.name}' cannot be changed from '{space.app_type}' "
            f"to '{app_type}'."
        )
    for key in settings:
        if key.endswith("AppSettings") and key != f"{space.app_type}AppSettings":
            raise validation(f"{key} cannot be set on a {space.app_type} space.")
    remote = settings.get("RemoteAccess")
    if remote is not None and remote not in ("ENABLED", "DISABLED"):
        raise validation(
            f"1 validation error detected: Value '{remote}' at 'spaceSettings.remoteAccess' "
            "failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
        )
    app_settings = settings.get(f"{space.app_type}AppSettings") or {}
    member = f"spaceSettings.{space.app_type[0].lower()}{space.app_type[1:]}AppSettings"
    instance = (app_settings.get("DefaultResourceSpec") or {}).get("InstanceType")
    if instance is not None:
        _instance_type(instance, f"{member}.defaultResourceSpec.instanceType")
    idle = parse_space_idle(app_settings, member)
    if remote is not None:
        space.remote_access = remote
    if instance is not None:
        space.instance_type = str(instance)
    if idle is not None:
        space.idle_timeout = idle
    space.modified = time.time()
    plane.update_space(space)
    return {"SpaceArn": space.arn}


# -- apps --------------------------------------------------------------------------------


def list_apps(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    domain_id = _opt_str(params, "DomainIdEquals")
    space_name = _opt_str(params, "SpaceNameEquals")
    user = _opt_str(params, "UserProfileNameEquals")
    apps = [
        a
        for a in plane.account.apps.values()
        if user is None  # only space apps are emulated
        and (domain_id is None or a.domain_id == domain_id)
        and (space_name is None or a.space_name == space_name)
    ]
    apps = _sorted(apps, params, {"CreationTime": lambda a: a.created})
    page, token = paginate(apps, params, "ListApps")
    return _with_token(
        {
            "Apps": [
                {
                    "DomainId": a.domain_id,
                    "SpaceName": a.space_name,
                    "AppType": a.app_type,
                    "AppName": a.app_name,
                    "Status": a.status,
                    "CreationTime": a.created,
                    "ResourceSpec": _resource_spec(plane, a.instance_type),
                }
                for a in page
            ]
        },
        token,
    )


def create_app(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    spec = params.get("ResourceSpec") or {}
    instance = spec.get("InstanceType") if isinstance(spec, dict) else None
    if instance is not None:  # request validation: before any lookup or state check
        _instance_type(instance, "resourceSpec.instanceType")
    space, app_type, app_name = _app_target(plane, params)
    if app_type != space.app_type:
        raise validation(
            f"AppType '{app_type}' does not match the AppType '{space.app_type}' of space "
            f"'{space.name}'."
        )
    current = plane.account.app_for_space(space)
    if current is not None and current.active:
        if current.app_name == app_name:
            raise in_use(f"App '{current.arn}' already exists.")
        raise in_use(
            f"Space '{space.arn}' already has app '{current.app_name}' in {current.status} status. "
            "A space runs one app at a time."
        )
    app = plane.new_app(space, app_name, str(instance or space.instance_type))
    plane.launch(app)
    return {"AppArn": app.arn}


def describe_app(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    app = _app(plane, params)
    out: dict[str, Any] = {
        "AppArn": app.arn,
        "AppType": app.app_type,
        "AppName": app.app_name,
        "DomainId": app.domain_id,
        "SpaceName": app.space_name,
        "Status": app.status,
        "CreationTime": app.created,
        "ResourceSpec": _resource_spec(plane, app.instance_type),
    }
    if app.status == "InService":
        out["LastHealthCheckTimestamp"] = time.time()
        out["LastUserActivityTimestamp"] = app.last_activity or app.created
    if app.failure_reason:
        out["FailureReason"] = app.failure_reason
    return out


def delete_app(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    app = _app(plane, params)
    if app.status == "Deleted":
        raise validation(f"App '{app.arn}' has already been deleted.")
    if app.status == "Failed":
        raise validation(f"App '{app.arn}' previously failed and was automatically deleted.")
    if app.status == "Deleting":
        raise in_use(f"App '{app.arn}' is already being deleted.")
    if app.status == "Pending":
        raise in_use(f"App '{app.arn}' is in Pending status. Delete it once it is InService.")
    plane.retire(app)
    return {}


# -- sessions ----------------------------------------------------------------------------


def start_session(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    """A data channel to the space's SSH server (port 22) through the broker."""
    identifier = _str(params, "ResourceIdentifier")
    match = _SPACE_ARN.fullmatch(identifier)
    if match is None:
        raise validation(
            f"Invalid ResourceIdentifier '{identifier}'. Expected a space ARN: "
            "arn:aws:sagemaker:<region>:<account-id>:space/<domain-id>/<space-name>."
        )
    domain = plane.account.domains.get(match["domain"])
    space = domain.spaces.get(match["space"]) if domain is not None else None
    if (
        space is None
        or match["region"] != plane.account.region
        or match["account"] != plane.account.account_id
    ):
        raise not_found(f"Space '{identifier}' does not exist.")

    app = plane.account.app_for_space(space)
    running = app if app is not None and app.status == "InService" else None
    where = f"space '{space.name}' in domain '{space.domain_id}'"
    if running is None:
        if space.remote_access != "ENABLED":
            raise _remote_access_disabled(where)
        raise validation(
            f"No app is InService for {where}. Start one with CreateApp and wait until its "
            "status is InService."
        )
    if running.remote_access != "ENABLED":
        if space.remote_access == "ENABLED":
            raise validation(
                f"Remote access was enabled for {where} after app '{running.app_name}' "
                "started. Restart the app (DeleteApp, then CreateApp) for it to take effect."
            )
        raise _remote_access_disabled(where)
    if plane.faults.start_session_failures > 0:
        plane.faults.start_session_failures -= 1
        raise internal_failure()
    since = running.in_service_since or 0.0
    if asyncio.get_running_loop().time() - since < plane.delays.start_session_failure_window:
        raise internal_failure()  # SSM registration lags InService on the real service
    if running.runtime is None:  # InService implies a started runtime; never expected
        raise internal_failure()
    limit = plane.config.limits.sessions_per_space
    if plane.live_sessions(running) >= limit:
        raise limit_exceeded(
            f"The maximum number of concurrent sessions ({limit}) for {where} has been "
            "reached. Terminate a session, then retry."
        )
    grant = plane.gateway.open_port_session(running.runtime.resolve, 22)
    plane.sessions[grant.session_id] = SessionRecord(grant.session_id, grant.stream_url, running)
    running.sessions.add(grant.session_id)
    return {
        "SessionId": grant.session_id,
        "StreamUrl": grant.stream_url,
        "TokenValue": grant.token_value,
    }


OPERATIONS: dict[str, Handler] = {
    "ListDomains": list_domains,
    "DescribeDomain": describe_domain,
    "ListUserProfiles": list_user_profiles,
    "ListSpaces": list_spaces,
    "DescribeSpace": describe_space,
    "UpdateSpace": update_space,
    "ListApps": list_apps,
    "CreateApp": create_app,
    "DescribeApp": describe_app,
    "DeleteApp": delete_app,
    "StartSession": start_session,
}


# -- helpers -----------------------------------------------------------------------------


@functools.cache
def instance_types() -> tuple[str, ...]:
    """The service model's ``AppInstanceType`` enumeration, as botocore ships it."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.shape_for("AppInstanceType")
    return tuple(shape.metadata["enum"])


def _instance_type(value: Any, member: str) -> str:
    if not isinstance(value, str) or value not in instance_types():
        raise validation(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(instance_types())}]"
        )
    return value


def _remote_access_disabled(where: str) -> ApiError:
    return validation(
        f"Remote access is not enabled for {where}. Enable it with UpdateSpace "
        "(SpaceSettings.RemoteAccess=ENABLED), then restart the space's app."
    )


def _str(params: dict[str, Any], name: str) -> str:
    value = _opt_str(params, name)
    if value is None:
        raise required(name)
    return value


def _opt_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise validation(f"{name} must be a string.")
    pattern = _PATTERNS.get(name)
    if value is not None and pattern is not None and not pattern.fullmatch(value):
        raise pattern_error(name, value, pattern.pattern)
    return value


def _domain(plane: ControlPlane, domain_id: str) -> Domain:
    domain = plane.account.domains.get(domain_id)
    if domain is None:
        raise not_found(f"Domain '{plane.account.arn('domain', domain_id)}' does not exist.")
    return domain


def _domains(plane: ControlPlane, domain_id: str | None) -> Iterable[Domain]:
    if domain_id is None:
        return plane.account.domains.values()
    domain = plane.account.domains.get(domain_id)
    return [domain] if domain is not None else []


def _space(plane: ControlPlane, domain_id: str, space_name: str) -> Space:
    domain = _domain(plane, domain_id)
    space = domain.spaces.get(space_name)
    if space is None:
        raise not_found(f"Space '{plane.account.space_arn(domain_id, space_name)}' does not exist.")
    return space


def _app_target(plane: ControlPlane, params: dict[str, Any]) -> tuple[Space, str, str]:
    domain_id = _str(params, "DomainId")
    app_type = _str(params, "AppType")
    app_name = _str(params, "AppName")
    if app_type not in _APP_TYPES:
        raise validation(
            f"1 validation error detected: Value '{app_type}' at 'appType' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(_APP_TYPES)}]"
        )
    space_name = _opt_str(params, "SpaceName")
    user = _opt_str(params, "UserProfileName")
    if space_name is not None and user is not None:
        raise validation("Only one of UserProfileName and SpaceName can be specified.")
    if space_name is None:
        if user is None:
            raise validation("Either UserProfileName or SpaceName must be specified.")
        _domain(plane, domain_id)
        raise validation(
            "The emulator models space apps only: pass SpaceName, not UserProfileName."
        )
    return _space(plane, domain_id, space_name), app_type, app_name


def _app(plane: ControlPlane, params: dict[str, Any]) -> App:
    space, app_type, app_name = _app_target(plane, params)
    app = plane.account.apps.get((space.domain_id, space.name, app_type, app_name))
    if app is None:
        arn = plane.account.app_arn(space.domain_id, space.name, app_type, app_name)
        raise not_found(f"App '{arn}' does not exist.")
    return app


def _sorted(
    items: list[T], params: dict[str, Any], keys: dict[str, Callable[[T], float]]
) -> list[T]:
    sort_by = params.get("SortBy", "CreationTime")
    order = params.get("SortOrder", "Descending")
    if sort_by not in keys:
        raise validation(
            f"1 validation error detected: Value '{sort_by}' at 'sortBy' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(keys)}]"
        )
    if order not in ("Ascending", "Descending"):
        raise validation(
            f"1 validation error detected: Value '{order}' at 'sortOrder' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Ascending, Descending]"
        )
    return sorted(items, key=keys[sort_by], reverse=order == "Descending")


def _resource_spec(plane: ControlPlane, instance_type: str) -> dict[str, str]:
    return {
        "SageMakerImageArn": IMAGE_ARN.format(region=plane.account.region),
        "SageMakerImageVersionAlias": IMAGE_VERSION_ALIAS,
        "InstanceType": instance_type,
    }


def _domain_url(plane: ControlPlane, domain: Domain) -> str:
    return f"https://{domain.id}.studio.{plane.account.region}.sagemaker.aws"


def _with_token(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token is not None:
        body["NextToken"] = token
    return body
