"""Finding spaces and the state of their apps: the read-only half of the Studio client.

Listing, resolving a ``name`` or ``domain-id/name``, describing one space, and the app lookups
the lifecycle calls wait on (``app_status``, ``describe_app``). Calls that do not depend on each
other go out at once (each is a round trip on a long link), and a domain's name, only shown, is
asked once and kept for the client's life. Items AWS described invalidly are left out of a
listing and remembered in ``rejected``.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.exceptions

from bridge.aws import validate
from bridge.aws.errors import AmbiguousSpace, AwsError, SpaceNotFound
from bridge.aws.studio_calls import StudioCalls
from bridge.aws.studio_errors import code_of
from bridge.aws.studio_space import APP_NAME, SUPPORTED_APP_TYPES, Space, domain_name, space_from
from bridge.aws.validate import InvalidResponse

__all__ = ["SpaceLookup"]

log = logging.getLogger(__name__)


class SpaceLookup:
    def __init__(self, aws: StudioCalls) -> None:
        self._aws = aws
        self.rejected: list[str] = []  # why items of the last listing were left out
        self._domain_names: dict[str, str] = {}  # domain id -> name (shown only), as last seen

    def list_spaces(self, domain_id: str | None = None) -> list[Space]:
        """Every space the caller can see, across domains, with its app state and instance type."""
        self.rejected = []
        domains: dict[str, str] = {}
        for d in self._aws.paginate("list_domains", "Domains"):
            try:
                domains[validate.domain_id("ListDomains", d.get("DomainId"))] = domain_name(
                    "ListDomains", d.get("DomainName", "")
                )
            except InvalidResponse as exc:
                self._reject(exc)
        self._domain_names.update(domains)
        filters = {"DomainIdEquals": domain_id} if domain_id else {}
        summaries = []
        for summary in self._aws.paginate("list_spaces", "Spaces", **filters):
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
                pool.map(lambda s: self.describe_raw(s["DomainId"], s["SpaceName"]), summaries)
            )
            running = [a for a in apps.values() if a.get("Status") == "InService"]
            for app, activity in zip(running, pool.map(self._last_activity, running), strict=True):
                app["LastUserActivityTimestamp"] = activity
        spaces = []
        for detail in details:
            try:
                spaces.append(space_from(detail, domains.get(detail["DomainId"], ""), apps))
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
                f"no space named {ref!r} in region {self._aws.region}; `smconnect list` shows the spaces you can use"
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
            detail = pool.submit(self.describe_raw, domain_id, name)
            listed = pool.submit(self._live_apps, domain_id, name)
            if domain_id not in self._domain_names:
                pool.submit(self._learn_domain_name, domain_id)
            raw, apps = detail.result(), listed.result()
        if activity:
            for app in apps.values():
                if app.get("Status") == "InService":
                    app["LastUserActivityTimestamp"] = self._last_activity(app)
        return space_from(raw, self._domain_names.get(domain_id, ""), apps)

    def _learn_domain_name(self, domain_id: str) -> None:
        """DescribeDomain's name of a domain, remembered; a failure leaves it unnamed (the
        name is only shown) and is asked again next time."""
        try:
            answer = self._aws.call(self._aws.sm.describe_domain, DomainId=domain_id)
            self._domain_names[domain_id] = domain_name(
                "DescribeDomain", answer.get("DomainName", "")
            )
        except AwsError:
            log.debug("describe_domain failed for %s", domain_id)

    def describe_raw(self, domain_id: str, name: str) -> dict[str, Any]:
        """DescribeSpace's answer as it came (``space_from`` validates what is kept)."""
        result: dict[str, Any] = self._aws.call(
            self._aws.sm.describe_space, DomainId=domain_id, SpaceName=name
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
        for app in self._aws.paginate("list_apps", "Apps", **filters):
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
            detail = self._aws.sm.describe_app(
                DomainId=app["DomainId"],
                SpaceName=app["SpaceName"],
                AppType=app["AppType"],
                AppName=APP_NAME,
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            log.info("DescribeApp for the activity of %s failed: %s", app["SpaceName"], exc)
            return None
        return detail.get("LastUserActivityTimestamp")

    def app_status(self, space: Space) -> str | None:
        """The app's status now (DescribeApp); None when the space has no app."""
        try:
            app = self._aws.sm.describe_app(
                DomainId=space.domain_id,
                SpaceName=space.name,
                AppType=space.app_type,
                AppName=APP_NAME,
            )
        except botocore.exceptions.ClientError as exc:
            if code_of(exc) in ("ResourceNotFound", "ResourceNotFoundException"):
                return None
            raise self._aws.translate("DescribeApp", exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._aws.translate("DescribeApp", exc) from None
        status = app.get("Status")
        return validate.app_status("DescribeApp", status) if status else None

    def describe_app(self, space: Space) -> dict[str, Any]:
        app: dict[str, Any] = self._aws.call(
            self._aws.sm.describe_app,
            DomainId=space.domain_id,
            SpaceName=space.name,
            AppType=space.app_type,
            AppName=APP_NAME,
        )
        return app
