"""One AWS context (profile, region, endpoint) as the daemon keeps it warm.

Creating a boto3 session and its clients costs a few hundred milliseconds; ssh starts a
ProxyCommand for every connection, so the daemon keeps one ``StudioClient`` per context and a
short-lived cache of the space list (aliases need the whole list to stay unambiguous).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bridge.aws.credentials import refresh_sso
from bridge.aws.errors import AmbiguousSpace, AwsError, CredentialsError, SpaceNotFound
from bridge.aws.session import SessionSpec, make_session, require_credentials
from bridge.aws.studio import Space, StudioClient
from bridge.ssh.aliases import DEFAULT_PREFIX, SpaceRef, alias_for, resolve_alias
from bridge.ssh.errors import SshConfigError

SPACE_CACHE_SECONDS = 15.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsContext:
    """Which account/region a request is about; ``None`` fields follow the standard chain."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


class Workspace:
    def __init__(self, context: AwsContext, *, poll_interval: float = 5.0) -> None:
        self.context = context
        self._poll_interval = poll_interval
        self._studio: StudioClient | None = None
        self._lock = asyncio.Lock()
        self._spaces: list[Space] | None = None
        self._spaces_at = 0.0

    async def studio(self) -> StudioClient:
        async with self._lock:
            if self._studio is None:
                self._studio = await asyncio.to_thread(self._make_studio)
            return self._studio

    def _make_studio(self) -> StudioClient:
        session = make_session(
            SessionSpec(profile=self.context.profile, region=self.context.region)
        )
        require_credentials(session)
        return StudioClient(
            session, endpoint_url=self.context.endpoint_url, poll_interval=self._poll_interval
        )

    async def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking StudioClient call in a worker thread.

        botocore's providers renew credentials before each call by themselves. When they
        cannot, renew an SSO token from its refresh token where botocore does not (legacy
        profiles), and build a new session either way, so the next call sees a fresh
        ``smconnect login`` or a changed config instead of a provider stuck on old settings.
        """
        studio = await self.studio()
        try:
            return await asyncio.to_thread(getattr(studio, fn), *args, **kwargs)
        except CredentialsError:
            async with self._lock:
                if self._studio is studio:
                    self._studio = None
            if not await asyncio.to_thread(refresh_sso, self.context.profile):
                raise
        studio = await self.studio()
        return await asyncio.to_thread(getattr(studio, fn), *args, **kwargs)

    async def spaces(self, *, refresh: bool = False) -> list[Space]:
        fresh = time.monotonic() - self._spaces_at < SPACE_CACHE_SECONDS
        if refresh or self._spaces is None or not fresh:
            self._spaces = await self.run("list_spaces")
            self._spaces_at = time.monotonic()
        return self._spaces

    def forget_spaces(self) -> None:
        self._spaces = None

    async def resolve(self, ref: str) -> Space:
        """``name`` or ``domain-id/name``, described afresh (status changes under us)."""
        if "/" in ref:
            domain_id, _, name = ref.partition("/")
            space: Space = await self.run("describe_space", domain_id, name)
            return space
        for refresh in (False, True):
            matches = [s for s in await self.spaces(refresh=refresh) if s.name == ref]
            if len(matches) == 1:
                space = await self.run("describe_space", matches[0].domain_id, ref)
                return space
        if matches:
            raise AmbiguousSpace(ref, [m.ref for m in matches])
        studio = await self.studio()
        raise SpaceNotFound(
            f"no space named {ref!r} in region {studio.region}; "
            "`smconnect list` shows the spaces you can use"
        )

    async def resolve_alias(self, alias: str, prefix: str = DEFAULT_PREFIX) -> Space:
        """The space an ssh host alias names, among the spaces this identity can see."""
        for refresh in (False, True):
            spaces = await self.spaces(refresh=refresh)
            try:
                ref = resolve_alias(alias, [SpaceRef.of(s) for s in spaces], prefix=prefix)
            except SshConfigError as exc:
                if refresh:
                    raise SpaceNotFound(str(exc)) from None
                continue
            space: Space = await self.run("describe_space", ref.domain_id, ref.name)
            return space
        raise AwsError("unreachable")  # pragma: no cover

    def alias(self, space: Space, spaces: list[Space], prefix: str = DEFAULT_PREFIX) -> str:
        return alias_for(
            space.name, space.domain_id, [SpaceRef.of(s) for s in spaces], prefix=prefix
        )
