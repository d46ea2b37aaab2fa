"""Which account a request is about: profile, region, endpoint (one definition for all layers).

The CLI builds it from its options and the shell's environment and sends it with every daemon
request that touches AWS; the daemon keys its Studio clients (and, through them, its channels)
by it. ``None`` fields follow the standard AWS chain. Stdlib only: the CLI imports it for
every command.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

__all__ = ["AwsContext"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsContext:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def from_env(cls) -> AwsContext:
        """What this process's environment says (the daemon's may differ: it reads the caller's)."""
        return cls(
            profile=os.environ.get("AWS_PROFILE") or None,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        )

    def params(self) -> dict[str, Any]:
        """The context parameters of every daemon method that touches AWS."""
        return {"profile": self.profile, "region": self.region, "endpoint_url": self.endpoint_url}
