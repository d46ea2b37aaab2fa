"""Every error kind the daemon answers maps to the documented exception (no bare base class)."""

from __future__ import annotations

import pytest

import smconnect
from bridge.api.errors import from_daemon
from bridge.daemon.client import RpcError


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("session_limit", smconnect.SessionLimitReached),
        ("invalid_response", smconnect.InvalidResponse),
        ("space_not_found", smconnect.SpaceNotFound),
        ("remote_access_disabled", smconnect.RemoteAccessDisabled),
        ("credentials", smconnect.CredentialsExpired),
        ("channel", smconnect.ChannelFailed),
    ],
)
def test_daemon_kinds_map_to_the_documented_exceptions(
    kind: str, expected: type[Exception]
) -> None:
    error = from_daemon(
        RpcError(-32000, "space 'demo' already has 10 active remote sessions", kind)
    )
    assert type(error) is expected
    assert error.kind == kind
    assert "\n" not in error.message


def test_a_session_limit_is_also_a_channel_failure() -> None:
    assert issubclass(smconnect.SessionLimitReached, smconnect.ChannelFailed)
