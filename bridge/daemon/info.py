"""``daemon.info``: the facts the daemon already owns, for clients that must not re-derive them.

The VS Code extension used to recompute the state directory, parse ``~/.aws`` and assume the
host prefix and the space's home directory in TypeScript; every such copy drifts from the
Python rules sooner or later. This method answers them from the one place that decides.
Read-only, cheap (a few small files), and free of secrets (profile names and regions only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bridge.aws import awsconfig
from bridge.aws.errors import AwsError
from bridge.daemon.dispatch import Api
from bridge.paths import default_paths, transport_kind

if TYPE_CHECKING:
    from bridge.daemon.server import Connection


def profiles() -> list[dict[str, str | None]]:
    """Profiles as botocore sees them: ``[default]``/``[profile x]`` in the config file and
    ``[x]`` in the credentials file (``[sso-session x]``, ``[services x]`` are not profiles),
    each with the region its config section gives, ``default`` first."""
    config = _sections(awsconfig.config_path())
    found: dict[str, str | None] = {}
    for section, values in config.items():
        name = section[len("profile ") :].strip() if section.startswith("profile ") else None
        if section == "default":
            name = "default"
        if name:
            found[name] = found.get(name) or values.get("region") or None
    for name in _sections(awsconfig.credentials_path()):
        found.setdefault(name, None)
    order = sorted(found, key=lambda n: (n != "default", n))
    return [{"name": n, "region": found[n]} for n in order]


def _sections(path: Any) -> dict[str, dict[str, str]]:
    try:
        return awsconfig.read_config(path)
    except AwsError:
        return {}  # unreadable: no profiles from it, as botocore would fail on it anyway


def register(api: Api, *, host_prefix: Callable[[], str], remote_home: str) -> None:
    """Add ``daemon.info``; ``host_prefix`` is asked per call (``ssh-config install`` may
    change it while the daemon runs)."""

    async def info(conn: Connection, params: None) -> dict[str, Any]:
        paths = default_paths()
        return {
            "runtime_dir": str(paths.runtime_dir),
            "state_dir": str(paths.state_dir),
            "log": str(paths.log),
            "transport": transport_kind(),
            "host_prefix": host_prefix(),
            "remote_home": remote_home,
            "profiles": profiles(),
        }

    api.add("daemon.info", info)
