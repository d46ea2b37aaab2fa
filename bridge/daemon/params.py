"""The parameters every AWS-touching method shares; the dispatcher builds them (-32602 on a
bad shape) before a handler runs. Method-specific parameters live beside their service."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.aws.context import AwsContext

__all__ = ["ContextParams", "SpaceParams"]


@dataclass(frozen=True, kw_only=True)
class ContextParams:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    @property
    def context(self) -> AwsContext:
        return AwsContext(profile=self.profile, region=self.region, endpoint_url=self.endpoint_url)


@dataclass(frozen=True, kw_only=True)
class SpaceParams(ContextParams):
    space: str
