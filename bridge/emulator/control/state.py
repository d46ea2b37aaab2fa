"""The emulated account's resources: domains, user profiles, spaces and apps, with their ARNs.

Plain records; the SageMaker handlers and the app lifecycle change them. Times are epoch
seconds, which is also how awsJson carries timestamps.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from bridge.emulator.config import EmulatorConfig
from bridge.emulator.control.ports import Runtime


@dataclass
class UserProfile:
    domain_id: str
    name: str
    created: float


@dataclass
class Space:
    domain_id: str
    name: str
    arn: str
    app_type: str
    remote_access: str
    instance_type: str
    owner: str
    sharing: str
    created: float
    modified: float
    status: str = "InService"
    display_name: str | None = None  # SpaceDisplayName; None: the name
    idle_timeout: int | None = None  # AppLifecycleManagement.IdleSettings, minutes; None: off

    @property
    def display(self) -> str:
        return self.name if self.display_name is None else self.display_name


@dataclass
class App:
    domain_id: str
    space_name: str
    app_type: str
    app_name: str
    arn: str
    created: float
    instance_type: str
    remote_access: str  # the space's setting when the app started: what its sessions obey
    status: str = "Pending"
    failure_reason: str | None = None
    in_service_since: float | None = None  # loop time, for the StartSession failure window
    last_activity: float | None = None  # epoch seconds: LastUserActivityTimestamp
    runtime: Runtime | None = None
    sessions: set[str] = field(default_factory=set)
    task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        """Holds the space: a second app cannot start while this one is in one of these."""
        return self.status in ("Pending", "InService", "Deleting")


@dataclass
class Domain:
    id: str
    name: str
    arn: str
    created: float
    user_profiles: dict[str, UserProfile] = field(default_factory=dict)
    spaces: dict[str, Space] = field(default_factory=dict)
    idle_timeout: int | None = None  # DefaultSpaceSettings' IdleSettings, minutes; None: off


class Account:
    """Every resource of one emulated account in one region."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.region = config.region
        self.account_id = config.account_id
        self.domains: dict[str, Domain] = {}
        self.apps: dict[tuple[str, str, str, str], App] = {}
        # Seeded resources get distinct, ordered creation times so sorting is deterministic.
        stamp = time.time() - 3600.0
        for dcfg in config.domains:
            stamp += 1.0
            domain = Domain(dcfg.id, dcfg.name, self.arn("domain", dcfg.id), stamp)
            domain.idle_timeout = dcfg.idle_timeout_minutes
            for profile in dcfg.user_profiles:
                stamp += 1.0
                domain.user_profiles[profile] = UserProfile(dcfg.id, profile, stamp)
            for scfg in dcfg.spaces:
                stamp += 1.0
                domain.spaces[scfg.name] = Space(
                    domain_id=dcfg.id,
                    name=scfg.name,
                    arn=self.space_arn(dcfg.id, scfg.name),
                    app_type=scfg.app_type,
                    remote_access=scfg.remote_access,
                    instance_type=scfg.instance_type,
                    owner=scfg.owner or dcfg.user_profiles[0],
                    sharing=scfg.sharing,
                    created=stamp,
                    modified=stamp,
                    idle_timeout=scfg.idle_timeout_minutes or dcfg.idle_timeout_minutes,
                )
            self.domains[dcfg.id] = domain

    def arn(self, kind: str, path: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{kind}/{path}"

    def space_arn(self, domain_id: str, space_name: str) -> str:
        return self.arn("space", f"{domain_id}/{space_name}")

    def app_arn(self, domain_id: str, space_name: str, app_type: str, app_name: str) -> str:
        return self.arn("app", f"{domain_id}/{space_name}/{app_type.lower()}/{app_name}")

    def app_for_space(self, space: Space) -> App | None:
        """The space's current app: the active one, else the most recent."""
        apps = [
            a
            for a in self.apps.values()
            if (a.domain_id, a.space_name) == (space.domain_id, space.name)
        ]
        active = [a for a in apps if a.active]
        if active:
            return active[0]
        return max(apps, key=lambda a: a.created, default=None)
