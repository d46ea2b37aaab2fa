"""One caller identity as the daemon keeps it warm, and the daemon's rule for identities.

Creating a boto3 session and its clients costs a few hundred milliseconds; ssh starts a
ProxyCommand for every connection, so the daemon keeps one ``StudioClient`` per identity and a
short-lived cache of the space list (aliases need the whole list to stay unambiguous).

Identities are keyed by ``AwsContext.key`` (profile, or a fingerprint of exported credentials,
plus region and endpoint): two identities never share a client or a channel, and a refused one
never falls back to another. The daemon's own environment is not an identity callers get by
default: ``adopt_daemon_environment`` takes its credentials out of ``os.environ`` at start, and
only callers that send no context at all (raw RPC clients) use them. See docs/design/identity.md.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, MutableMapping
from dataclasses import replace
from typing import TypeVar

from bridge.aws.context import AwsContext, IdentityKey
from bridge.aws.credentials import refresh_sso, resolve_profile_name
from bridge.aws.errors import (
    AmbiguousSpace,
    AwsError,
    CredentialsError,
    ExportedCredentialsExpired,
    SignInExpired,
    SpaceNotFound,
)
from bridge.aws.identity import Principal, caller_identity, exported_expired
from bridge.aws.pricing import HourlyPrice, PriceCache, PriceClient
from bridge.aws.session import SessionSpec, make_session, require_credentials
from bridge.aws.studio import StudioClient
from bridge.aws.studio_space import Space
from bridge.daemon.remembered import KnownArns
from bridge.ssh.aliases import DEFAULT_PREFIX, SpaceRef, alias_for, resolve_alias
from bridge.ssh.errors import SshConfigError

SPACE_CACHE_SECONDS = 15.0
T = TypeVar("T")

# Who the daemon's environment says it is; none of it is left for botocore to fall back on.
# Region and endpoint stay: they say where, not who (botocore's SSO and STS providers of a
# caller's profile reach AWS_ENDPOINT_URL too), and every caller sends its own for our clients.
_IDENTITY_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
)
_daemon_default: AwsContext | None = None


def adopt_daemon_environment(environ: MutableMapping[str, str] | None = None) -> AwsContext:
    """Called once by the daemon process: keep its environment's identity for context-less
    callers and remove it from ``environ``, so botocore never falls back to it for a caller
    who sent their own (a wrong exported secret must fail, not run as the daemon's user)."""
    global _daemon_default
    environ = os.environ if environ is None else environ
    _daemon_default = replace(AwsContext.from_env(environ), caller_env=False)
    for name in _IDENTITY_VARIABLES:
        environ.pop(name, None)
    return _daemon_default


def _effective(context: AwsContext) -> AwsContext:
    """A context-less caller's request runs on the daemon's own environment, field by field."""
    default = _daemon_default
    if context.caller_env or default is None:
        return context
    use_default_source = context.profile is None and context.credentials is None
    return replace(
        context,
        profile=default.profile if use_default_source else context.profile,
        credentials=default.credentials if use_default_source else context.credentials,
        region=context.region or default.region,
        endpoint_url=context.endpoint_url or default.endpoint_url,
    )


class Workspace:
    def __init__(
        self,
        context: AwsContext,
        *,
        poll_interval: float = 5.0,
        price_cache: PriceCache | None = None,
        newest: Callable[[Workspace], Workspace | None] = lambda ws: None,
        arns: dict[str, str] | None = None,
        arns_learnt: Callable[[], None] = lambda: None,
    ) -> None:
        self.context = context
        self.key: IdentityKey = context.key
        self.principal: Principal | None = None  # known once exported credentials were checked
        self._newest = newest
        self._poll_interval = poll_interval
        self._price_cache = price_cache or PriceCache(None)
        self._studio: StudioClient | None = None
        self._prices: PriceClient | None = None
        self._lock = asyncio.Lock()
        self._spaces: list[Space] | None = None
        self._spaces_at = 0.0
        # ref -> (space, when asked, whether described with the app's activity)
        self._described: dict[str, tuple[Space, float, bool]] = {}
        self._forgotten = 0  # forget_spaces() calls: a describe begun before one is not kept
        # ref -> the space's ARN as last described or listed, shared by every identity of the
        # same endpoint (``Workspaces``); kept across forget_spaces(): an ARN names the space
        # (domain and name), not a run of its app (``known_arn``)
        self._arns: dict[str, str] = {} if arns is None else arns
        self._arns_learnt = (
            arns_learnt  # after any write: KnownArns.save keeps them (remembered.py)
        )
        # Why items of the last listing were left out (AWS described them invalidly).
        self.rejected: tuple[str, ...] = ()

    @property
    def region(self) -> str | None:
        """The region this identity's calls go to, once known (its client's, else as sent)."""
        return self._studio.region if self._studio is not None else self.context.region

    async def studio(self) -> StudioClient:
        async with self._lock:
            if self._studio is None:
                self._studio = await asyncio.to_thread(self._make_studio)
            return self._studio

    def _make_studio(self) -> StudioClient:
        context = self.context
        session = make_session(
            SessionSpec(
                profile=context.profile, region=context.region, credentials=context.credentials
            )
        )
        require_credentials(session)
        self._prices = PriceClient(session, self._price_cache, endpoint_url=context.endpoint_url)
        studio = StudioClient(
            session, endpoint_url=context.endpoint_url, poll_interval=self._poll_interval
        )
        if context.credentials is not None and self.principal is None:
            self.principal = caller_identity(session, context.credentials, context.endpoint_url)
        return studio

    async def run(self, call: Callable[[StudioClient], T], *, fallback: bool = True) -> T:
        """Run a blocking StudioClient call (``lambda studio: studio.…``) in a worker thread.

        botocore's providers renew credentials before each call by themselves. When they
        cannot, renew an SSO token from its refresh token where botocore does not (legacy
        profiles), and build a new session either way, so the next call sees a fresh
        ``smconnect login`` or a changed config instead of a provider stuck on old settings.
        Exported credentials renew nothing: with ``fallback``, a call that fails on them is run
        once on the newest workspace of the same principal (see ``Workspaces._newest``).
        """
        try:
            studio = await self.studio()
            try:
                return await asyncio.to_thread(call, studio)
            except CredentialsError:
                async with self._lock:
                    if self._studio is studio:
                        self._studio = None
                if self.context.credentials is not None:
                    raise
                if not await asyncio.to_thread(refresh_sso, self.context.profile):
                    raise
            studio = await self.studio()
            return await asyncio.to_thread(call, studio)
        except SignInExpired:
            raise self._sign_in_expired() from None
        except CredentialsError as exc:
            if self.context.credentials is None:
                raise
            # Exported credentials do not renew themselves: run on the newest ones the same
            # principal sent since (the proxy sends its shell's on every connection).
            newer = self._newest(self) if fallback else None
            if newer is not None:
                return await newer.run(call, fallback=False)
            if not isinstance(exc, ExportedCredentialsExpired) and "Expired" in str(exc):
                # Worked when this identity was first used: a session outlived them.
                raise exported_expired(self.context.credentials, opened_session=True) from None
            raise

    def _sign_in_expired(self) -> SignInExpired:
        name = resolve_profile_name(self.context.profile)
        flag = "" if name == "default" else f" --profile {name}"
        return SignInExpired(
            f"the SSO session of profile {name!r} has expired or is missing: "
            f"run `smconnect login{flag}`"
        )

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
            self._arns.update((s.ref, s.arn) for s in spaces)
            self._arns_learnt()
            return spaces
        return self._spaces

    @property
    def changes(self) -> int:
        """How often ``forget_spaces()`` ran (a start or stop of ours, a failure): what was
        learnt before a change may be stale."""
        return self._forgotten

    def forget_spaces(self) -> None:
        """After a change of ours (a start, a stop) or a failure: list and describe afresh."""
        self._spaces = None
        self._described.clear()
        self._forgotten += 1

    async def describe(
        self, domain_id: str, name: str, *, max_age: float = 0.0, activity: bool = True
    ) -> Space:
        """The space as it is now (status changes under us), or as described at most
        ``max_age`` seconds ago; ``activity=False`` leaves out the app's last activity (one
        round trip less, see ``StudioClient.describe_space``)."""
        ref = f"{domain_id}/{name}"
        reused = self._held(ref, max_age, activity)
        if reused is not None:
            return reused
        forgotten, asked = self._forgotten, time.monotonic()
        space = await self.run(
            lambda studio: studio.describe_space(domain_id, name, activity=activity)
        )
        if self._arns.get(space.ref) != space.arn:
            self._arns[space.ref] = space.arn
            self._arns_learnt()
        # Kept for reuse only if nothing newer is known: no forget_spaces() (a start, a stop)
        # since it was asked, and no description asked later that came back first (a slow
        # describe from before a restart must not replace the one from after it).
        held = self._described.get(ref)
        if forgotten == self._forgotten and (held is None or held[1] <= asked):
            self._described[ref] = (space, asked, activity)
        return space

    def _held(self, ref: str, max_age: float, activity: bool) -> Space | None:
        """The description ``describe`` would hand out again without a call, if any (one
        described without the activity serves only callers that do not want it)."""
        held = self._described.get(ref)
        if held is not None and time.monotonic() - held[1] <= max_age and (held[2] or not activity):
            return held[0]
        return None

    def will_describe(self, ref: SpaceRef, max_age: float) -> bool:
        """Whether ``describe(..., max_age=max_age, activity=False)`` of ``ref`` would ask AWS."""
        return self._held(f"{ref.domain_id}/{ref.name}", max_age, False) is None

    def known_arn(self, ref: SpaceRef) -> str | None:
        """The ARN of ``ref`` without asking AWS: as an identity of this endpoint last
        described or listed it, else built from another ARN in the same domain, since a space's
        ARN is ``arn:<partition>:sagemaker:<region>:<account>:space/<domain-id>/<space-name>``
        (the account and region are the domain's). A space deleted since, a name built wrong,
        or a space this identity may not use only makes StartSession on it fail (another
        identity's knowledge grants nothing: the call is this identity's); it can never name
        another space than ``ref``."""
        known = self._arns.get(f"{ref.domain_id}/{ref.name}")
        if known is not None:
            return known
        marker = f":space/{ref.domain_id}/"
        for arn in self._arns.values():
            head, found, _ = arn.partition(marker)
            if found:
                return f"{head}{marker}{ref.name}"
        return None

    def described_before(self, space: Space, moment: float) -> bool:
        """Whether ``space`` is a description made before ``moment`` (``time.monotonic()``)
        and handed out again by ``describe(max_age=…)``: what to describe afresh and retry
        with when opening on it failed."""
        held = self._described.get(space.ref)
        return held is not None and held[0] is space and held[1] < moment

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

    async def resolve_alias(
        self, alias: str, prefix: str = DEFAULT_PREFIX, *, max_age: float = 0.0
    ) -> Space:
        """The space an ssh host alias names, among the spaces this identity can see
        (described as ``describe(max_age=…)`` says, without its activity)."""
        for refresh in (False, True):
            spaces = await self.spaces(refresh=refresh)
            try:
                ref = resolve_alias(alias, [SpaceRef.of(s) for s in spaces], prefix=prefix)
            except SshConfigError as exc:
                if refresh:
                    raise SpaceNotFound(str(exc)) from None
                continue
            return await self.describe(ref.domain_id, ref.name, max_age=max_age, activity=False)
        raise AwsError("unreachable")  # pragma: no cover

    def alias(self, space: Space, spaces: list[Space], prefix: str = DEFAULT_PREFIX) -> str:
        return alias_for(
            space.name, space.domain_id, [SpaceRef.of(s) for s in spaces], prefix=prefix
        )


class Workspaces:
    """One ``Workspace`` per identity, made on first use and kept for the daemon's life.

    Keyed by ``IdentityKey`` (never by a secret). For exported credentials it also remembers
    which workspace a principal used last, so sessions opened with credentials that have since
    expired resume with the ones the same principal sent later.
    """

    def __init__(
        self,
        *,
        poll_interval: float = 5.0,
        price_cache: PriceCache | None = None,
        known_arns: KnownArns | None = None,
    ) -> None:
        self._poll_interval = poll_interval
        self._price_cache = price_cache
        self._workspaces: dict[IdentityKey, Workspace] = {}
        # endpoint -> Workspace._arns, kept across daemons when given a file (``remembered.py``)
        self._arns = known_arns or KnownArns(None)
        self._used: dict[IdentityKey, float] = {}

    def get(self, context: AwsContext) -> Workspace:
        context = _effective(context)
        key = context.key
        ws = self._workspaces.get(key)
        if ws is None:
            ws = Workspace(
                context,
                poll_interval=self._poll_interval,
                newest=self._newest,
                price_cache=self._price_cache,
                arns=self._arns.for_endpoint(context.endpoint_url),
                arns_learnt=self._arns.save,
            )
            self._workspaces[key] = ws
        self._used[key] = time.monotonic()
        return ws

    def identities(self) -> list[Workspace]:
        return list(self._workspaces.values())

    def _newest(self, ws: Workspace) -> Workspace | None:
        """The most recently used other checked workspace of ``ws``'s principal, region and
        endpoint: where a call that failed on ``ws``'s expired exported credentials goes."""
        if ws.principal is None:
            return None
        same = [
            other
            for other in self._workspaces.values()
            if other is not ws
            and other.principal == ws.principal
            and (other.key.region, other.key.endpoint_url) == (ws.key.region, ws.key.endpoint_url)
        ]
        return max(same, key=lambda other: self._used.get(other.key, 0.0), default=None)

    def forget_spaces(self) -> None:
        """After a start or a stop: every identity lists and describes afresh (another
        identity's description of the space, reused by its next ssh, would name the old app
        run and so the old host key)."""
        for ws in self._workspaces.values():
            ws.forget_spaces()

    def rejected(self) -> list[str]:
        """Why items of the last listings were left out, over every identity (no AWS call):
        what ``status`` warns about, as ``list`` does."""
        return list(dict.fromkeys(r for ws in self._workspaces.values() for r in ws.rejected))
