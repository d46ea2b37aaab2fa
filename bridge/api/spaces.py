"""Spaces as the public API shows them, and the calls that list, start, stop and describe them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bridge.api._daemon import LONG_TIMEOUT, Context, call, run_sync
from bridge.api.errors import AmbiguousSpace, SpaceNotFound
from bridge.aws import errors as aws_errors

__all__ = ["Space", "SpaceRef", "spaces", "start", "status", "stop"]


@dataclass(frozen=True)
class Space:
    """One SageMaker Studio space, as the daemon described it at the time of the call."""

    name: str
    domain_id: str
    ref: str  # "domain-id/name": unambiguous across domains
    arn: str
    status: str
    app_type: str | None
    remote_access: str  # "ENABLED" | "DISABLED"
    ssh_host: str  # the ssh alias (``ssh <ssh_host>`` works once the ssh config is installed)
    domain_name: str = ""
    instance_type: str | None = None
    app_status: str | None = None  # None: no app (stopped)
    owner: str | None = None
    app_created: str | None = None  # one run of the app; its host key changes per run
    # What it costs (as ``smconnect list --json``): RFC 3339 UTC times, None when not running.
    running_since: str | None = None  # the app's CreationTime, while InService
    last_activity: str | None = None  # DescribeApp's LastUserActivityTimestamp
    idle_timeout_minutes: int | None = None  # None: idle shutdown off
    idle_shutdown_at: str | None = None  # projected: last activity (else start) + timeout
    price_per_hour: float | None = None  # on-demand, from the Price List API; never guessed
    currency: str | None = None
    price_source: str | None = None  # "aws" | "emulated"
    profile: str | None = field(default=None, repr=False, compare=False)
    region: str | None = field(default=None, repr=False, compare=False)

    @property
    def running(self) -> bool:
        return self.app_status == "InService"

    @classmethod
    def from_json(cls, data: dict[str, Any], context: Context) -> Space:
        names = {f.name for f in dataclasses.fields(cls)} - {"profile", "region"}
        known = {k: v for k, v in data.items() if k in names}
        return cls(**known, profile=context.profile, region=context.region)


SpaceRef = str | Space
"""A space: its name, ``domain-id/name``, or a ``Space`` (whose profile and region are used)."""


def context_of(space: SpaceRef, profile: str | None, region: str | None) -> Context:
    if isinstance(space, Space):
        profile, region = profile or space.profile, region or space.region
    return Context.resolve(profile, region)


def ref_of(space: SpaceRef) -> str:
    return space.ref if isinstance(space, Space) else space


async def list_spaces(context: Context, *, refresh: bool = False) -> list[Space]:
    result = await call("spaces.list", {**context.params(), "refresh": refresh})
    return [Space.from_json(s, context) for s in result["spaces"]]


async def find(space: SpaceRef, context: Context) -> Space:
    """The space a name or ref names, described afresh (a stale list is refreshed once)."""
    ref = ref_of(space)
    for refresh in (False, True):
        found = [s for s in await list_spaces(context, refresh=refresh) if ref in (s.name, s.ref)]
        if len(found) == 1:
            return found[0]
        if found:
            error = aws_errors.AmbiguousSpace(ref, [s.ref for s in found])
            raise AmbiguousSpace(str(error), error.kind)
    raise SpaceNotFound(
        f"no space named {ref!r}; `smconnect list` shows the spaces you can use",
        aws_errors.SpaceNotFound.kind,
    )


def spaces(profile: str | None = None, region: str | None = None) -> list[Space]:
    """Every space this AWS identity can use in the region, freshly listed."""
    context = Context.resolve(profile, region)
    return run_sync(lambda: list_spaces(context, refresh=True))


def status(space: SpaceRef, *, profile: str | None = None, region: str | None = None) -> Space:
    """The space as it is now (``app_status``, ``remote_access``, ...)."""
    context = context_of(space, profile, region)
    return run_sync(lambda: find(space, context))


def _change(
    method: str,
    space: SpaceRef,
    profile: str | None,
    region: str | None,
    timeout: float,
    **extra: Any,
) -> Space:
    context = context_of(space, profile, region)

    async def change() -> Space:
        params = {**context.params(), "space": ref_of(space), **extra}
        result = await call(method, params, timeout=timeout)
        return Space.from_json(result["space"], context)

    return run_sync(change)


def start(
    space: SpaceRef,
    *,
    profile: str | None = None,
    region: str | None = None,
    timeout: float = LONG_TIMEOUT,
) -> Space:
    """Start the space's app and wait until it is InService (returns at once if it is)."""
    return _change("space.start", space, profile, region, timeout)


def stop(
    space: SpaceRef,
    *,
    profile: str | None = None,
    region: str | None = None,
    timeout: float = LONG_TIMEOUT,
    force: bool = False,
) -> Space:
    """Stop the space's app and wait until it is gone. With ssh sessions, forwards or kernels
    open on the space it refuses (``SmconnectError``, kind ``space_in_use``, naming them) unless
    ``force``."""
    return _change("space.stop", space, profile, region, timeout, force=force)
