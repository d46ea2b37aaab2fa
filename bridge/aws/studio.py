"""The SageMaker Studio slice smconnect needs: find spaces, run their app, open a session.

Synchronous boto3 on purpose: the daemon runs these calls in worker threads, and the CLI can use
the same client directly. Every AWS error is turned into an ``AwsError`` whose message says what
to do; raw ``ClientError`` never escapes. Long waits report progress through a callback.

This module holds the calls that change things (remote access, the app's lifecycle, sessions);
finding spaces is ``studio_lookup``, the clients ``studio_calls``, and what AWS answers is
validated into ``Space`` / ``SessionGrant`` by ``studio_space``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import botocore.exceptions

from bridge.aws import validate
from bridge.aws.errors import (
    AppNotRunning,
    AppStartFailed,
    AppTimeout,
    ConfigurationError,
    RemoteAccessDisabled,
    SessionLimitExceeded,
    SessionStartFailed,
)
from bridge.aws.idle import IdleState, idle_state_from, idle_timeout
from bridge.aws.studio_calls import StudioCalls
from bridge.aws.studio_errors import code_of, message_of
from bridge.aws.studio_lookup import SpaceLookup
from bridge.aws.studio_space import (
    APP_NAME,
    SUPPORTED_APP_TYPES,
    SessionGrant,
    Space,
    grant_from,
    session_limit_in,
)
from bridge.aws.validate import InvalidResponse

__all__ = ["Progress", "StudioClient"]

log = logging.getLogger(__name__)

_RETRIABLE_SESSION_CODES = frozenset(
    {"InternalFailure", "ThrottlingException", "ServiceUnavailable"}
)
_SESSION_LIMIT_CODES = frozenset({"ResourceLimitExceeded", "ResourceLimitExceededException"})

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
        self.poll_interval = poll_interval
        self.app_timeout = app_timeout
        self.session_retry_window = session_retry_window
        self._sleep = sleep
        self._aws = StudioCalls(session, endpoint_url=endpoint_url)
        self._spaces = SpaceLookup(self._aws)

    @property
    def region(self) -> str:
        return self._aws.region

    # -- discovery (studio_lookup) --------------------------------------------------------

    @property
    def rejected(self) -> list[str]:
        """Why items of the last listing were left out."""
        return self._spaces.rejected

    def list_spaces(self, domain_id: str | None = None) -> list[Space]:
        """Every space the caller can see (``SpaceLookup.list_spaces``)."""
        return self._spaces.list_spaces(domain_id)

    def resolve_space(self, ref: str) -> Space:
        """The space a user's ``name`` or ``domain-id/name`` means (``SpaceLookup.resolve_space``)."""
        return self._spaces.resolve_space(ref)

    def describe_space(self, domain_id: str, name: str, *, activity: bool = True) -> Space:
        """The space as it is now (``SpaceLookup.describe_space``)."""
        return self._spaces.describe_space(domain_id, name, activity=activity)

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
        self._aws.call(
            self._aws.sm.update_space,
            DomainId=space.domain_id,
            SpaceName=space.name,
            SpaceSettings=settings,
        )
        self._wait(
            lambda: self._spaces.describe_raw(space.domain_id, space.name)["Status"] == "InService",
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
            status = self._spaces.app_status(space)
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
                self._aws.call(self._aws.sm.create_app, **params)
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
        app_status = self._spaces.app_status
        status = app_status(space)
        if status == "Pending":  # DeleteApp answers ResourceInUse until the app is InService
            progress("stopping", "waiting for the app to finish starting before stopping it")
            self._wait(lambda: app_status(space) != "Pending", "app start", progress)
            status = app_status(space)
        if status in (None, "Deleted"):
            return replace(space, app_status=None)
        if status != "Deleting":
            progress("stopping", f"stopping the app of space {space.name!r}")
            self._aws.call(
                self._aws.sm.delete_app,
                DomainId=space.domain_id,
                SpaceName=space.name,
                AppType=space.app_type,
                AppName=APP_NAME,
            )
        if wait:
            self._wait(
                lambda: app_status(space) in (None, "Deleted", "Failed"), "app stop", progress
            )
        return replace(space, app_status=None)

    def idle_state(self, space: Space) -> IdleState | None:
        """The running app's idle clock (DescribeApp + the space's or domain's IdleSettings);
        None when the app is not running."""
        if self._spaces.app_status(space) != "InService":
            return None
        app = self._spaces.describe_app(space)
        detail = self._spaces.describe_raw(space.domain_id, space.name)
        minutes = idle_timeout(detail)
        if minutes is None:
            domain = self._aws.call(self._aws.sm.describe_domain, DomainId=space.domain_id)
            minutes = idle_timeout(detail, domain)
        return idle_state_from(app, minutes)

    def _require_supported(self, space: Space) -> None:
        if space.app_type not in SUPPORTED_APP_TYPES:
            raise ConfigurationError(
                f"space {space.name!r} has app type {space.app_type or 'none'}; "
                "remote access needs a JupyterLab or CodeEditor space"
            )

    def _app_failure(self, space: Space) -> str:
        app = self._spaces.describe_app(space)
        return validate.plain(str(app.get("FailureReason") or "no reason given"))

    def _wait(self, done: Callable[[], bool], what: str, progress: Progress) -> None:
        deadline = time.monotonic() + self.app_timeout
        while not done():
            if time.monotonic() >= deadline:
                raise AppTimeout(f"{what} did not finish within {self.app_timeout:.0f} s")
            self._sleep(self.poll_interval)

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
                response = self._aws.sm_sessions.start_session(ResourceIdentifier=space.arn)
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
                    limit = session_limit_in(message_of(exc))
                    raise SessionLimitExceeded(space.name, limit) from None
                if code == "ValidationException" and "InService" in message_of(exc):
                    raise AppNotRunning(
                        f"space {space.name!r} is not running; `smconnect start {space.name}` starts it"
                    ) from None
                raise self._aws.translate("StartSession", exc) from None
            except botocore.exceptions.BotoCoreError as exc:
                raise self._aws.translate("StartSession", exc) from None
            return grant_from(response)

    def try_start_session(self, arn: str) -> SessionGrant | None:
        """One StartSession on a space's ARN alone, sent before the space is described
        (``bridge.daemon.early``): no retry, no progress, and None for any refusal or failure,
        which the description that follows explains (or ``start_session`` meets again)."""
        try:
            response = self._aws.sm_sessions.start_session(ResourceIdentifier=arn)
            return grant_from(response)
        except botocore.exceptions.ClientError as exc:
            log.debug("early StartSession refused: %s", code_of(exc))
        except botocore.exceptions.BotoCoreError as exc:
            log.debug("early StartSession failed: %s", type(exc).__name__)
        except InvalidResponse as exc:
            log.warning("%s", exc)
        return None

    def resume_session(self, session_id: str) -> str:
        """A new token for a dropped data channel (ssm:ResumeSession)."""
        response = self._aws.call(self._aws.ssm.resume_session, SessionId=session_id)
        token = response.get("TokenValue")
        if not token:
            raise SessionStartFailed(f"session {session_id} can no longer be resumed (timed out)")
        return validate.token_value("ResumeSession", token)

    def terminate_session(self, session_id: str) -> None:
        """End a session on the service side (it counts against the space's limit until then)."""
        self._aws.call(self._aws.ssm.terminate_session, SessionId=session_id)
