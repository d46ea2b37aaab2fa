"""One AWS context (profile, region, endpoint) as the daemon keeps it warm.

Creating a boto3 session and its clients costs a few hundred milliseconds; ssh starts a
ProxyCommand for every connection, so the daemon keeps one ``StudioClient`` per context and a
short-lived cache of the space list (aliases need the whole list to stay unambiguous).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from bridge.aws.context import AwsContext
from bridge.aws.credentials import refresh_sso
from bridge.aws.errors import AmbiguousSpace, AwsError, CredentialsError, SpaceNotFound
from bridge.aws.pricing import HourlyPrice, PriceCache, PriceClient
from bridge.aws.session import SessionSpec, make_session, require_credentials
from bridge.aws.studio import Space, StudioClient
from bridge.ssh.aliases import DEFAULT_PREFIX, SpaceRef, alias_for, resolve_alias
from bridge.ssh.errors import SshConfigError

SPACE_CACHE_SECONDS = 15.0
T = TypeVar("T")


class Workspace:
    def __init__(
        self,
        context: AwsContext,
        *,
        poll_interval: float = 5.0,
        price_cache: PriceCache | None = None,
    ) -> None:
        self.context = context
        self._poll_interval = poll_interval
        self._price_cache = price_cache or PriceCache(None)
        self._studio: StudioClient | None = None
        self._prices: PriceClient | None = None
        self._lock = asyncio.Lock()
        self._spaces: list[Space] | None = None
        self._spaces_at = 0.0
        # Why items of the last listing were left out (AWS described them invalidly).
        self.rejected: tuple[str, ...] = ()

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
        self._prices = PriceClient(
            session, self._price_cache, endpoint_url=self.context.endpoint_url
        )
        return StudioClient(
            session, endpoint_url=self.context.endpoint_url, poll_interval=self._poll_interval
        )

    async def run(self, call: Callable[[StudioClient], T]) -> T:
        """Run a blocking StudioClient call (``lambda studio: studio.…``) in a worker thread.

        botocore's providers renew credentials before each call by themselves. When they
        cannot, renew an SSO token from its refresh token where botocore does not (legacy
        profiles), and build a new session either way, so the next call sees a fresh
        ``smconnect login`` or a changed config instead of a provider stuck on old settings.
        """
        studio = await self.studio()
        try:
            return await asyncio.to_thread(call, studio)
        except CredentialsError:
            async with self._lock:
                if self._studio is studio:
                    self._studio = None
            if not await asyncio.to_thread(refresh_sso, self.context.profile):
                raise
        studio = await self.studio()
        return await asyncio.to_thread(call, studio)

    async def price(self, space: Space) -> HourlyPrice | None:
        """The hourly price of the space's running instance (None: not running, or no price:
        see ``bridge.aws.pricing``); cached for a day, so cheap after the first ask."""
        if not space.running or space.instance_type is None or space.app_type is None:
            return None
        studio = await self.studio()
        prices, instance, app = self._prices, space.instance_type, space.app_type
        if prices is None:
            return None
        return await asyncio.to_thread(prices.hourly, studio.region, instance, app)

    async def spaces(self, *, refresh: bool = False) -> list[Space]:
        fresh = time.monotonic() - self._spaces_at < SPACE_CACHE_SECONDS
        if refresh or self._spaces is None or not fresh:
            spaces, self.rejected = await self.run(
                lambda studio: (studio.list_spaces(), tuple(studio.rejected))
            )
            self._spaces, self._spaces_at = spaces, time.monotonic()
            return spaces
        return self._spaces

    def forget_spaces(self) -> None:
        self._spaces = None

    async def describe(self, domain_id: str, name: str) -> Space:
        """The space as it is now (status changes under us)."""
        return await self.run(lambda studio: studio.describe_space(domain_id, name))

    async def resolve(self, ref: str) -> Space:
        """``name`` or ``domain-id/name``, described afresh (status changes under us)."""
        if "/" in ref:
            domain_id, _, name = ref.partition("/")
            return await self.describe(domain_id, name)
        for refresh in (False, True):
            matches = [s for s in await self.spaces(refresh=refresh) if s.name == ref]
            if len(matches) == 1:
                return await self.describe(matches[0].domain_id, ref)
        if matches:
            raise AmbiguousSpace(ref, [m.ref for m in matches])
        studio = await self.studio()
        if not await self.spaces():
            raise SpaceNotFound(
                f"no space named {ref!r}: your identity sees no Studio space in region "
                f"{studio.region}; if your spaces are in another region, pass --region or set "
                "AWS_REGION (`smconnect doctor` says where the region comes from)"
            )
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
            return await self.describe(ref.domain_id, ref.name)
        raise AwsError("unreachable")  # pragma: no cover

    def alias(self, space: Space, spaces: list[Space], prefix: str = DEFAULT_PREFIX) -> str:
        return alias_for(
            space.name, space.domain_id, [SpaceRef.of(s) for s in spaces], prefix=prefix
        )


class Workspaces:
    """One ``Workspace`` per context, made on first use and kept for the daemon's life.

    The key is the request's ``AwsContext`` today; per-caller identities (issue 13) replace it
    with the resolved identity, and everything keyed by workspace follows.
    """

    def __init__(
        self, *, poll_interval: float = 5.0, price_cache: PriceCache | None = None
    ) -> None:
        self._poll_interval = poll_interval
        self._price_cache = price_cache
        self._workspaces: dict[AwsContext, Workspace] = {}

    def get(self, context: AwsContext) -> Workspace:
        if context not in self._workspaces:
            self._workspaces[context] = Workspace(
                context, poll_interval=self._poll_interval, price_cache=self._price_cache
            )
        return self._workspaces[context]

    def rejected(self) -> list[str]:
        """Why items of the last listings were left out, over every context (no AWS call):
        what ``status`` warns about, as ``list`` does."""
        return list(dict.fromkeys(r for ws in self._workspaces.values() for r in ws.rejected))
