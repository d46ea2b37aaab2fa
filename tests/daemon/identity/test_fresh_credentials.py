"""Exported credentials and long-lived sessions: a workspace whose exported credentials expired
carries on with the newest ones the same principal (an assumed role, whatever its session
name) sent since, and says exactly what happened when none came. The real emulator over HTTP
(its clock moved, not waited for), unmodified boto3, the daemon's own ``Workspaces``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bridge.aws.context import AwsContext, EnvCredentials
from bridge.aws.errors import ExportedCredentialsExpired
from bridge.daemon.workspace import Workspaces
from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import CredentialConfig, DomainConfig, EmulatorConfig, SpaceConfig
from tests.support.log_scan import SECRETS

ROLE = "arn:aws:sts::111111111111:assumed-role/Dev"
OLD = ("ASIAFRESHNESSOLD0001", "freshnessTestOldSecret00000000000000001", "freshnessOldToken000001")
NEW = ("ASIAFRESHNESSNEW0002", "freshnessTestNewSecret00000000000000002", "freshnessNewToken000002")
LIFETIME = 60.0


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    SECRETS.update(OLD[1:] + NEW[1:])
    ends = time.time() + LIFETIME
    config = EmulatorConfig(
        pacing="unthrottled",
        account_id="111111111111",
        credentials=(
            CredentialConfig(*OLD, expires_at=ends, arn=f"{ROLE}/vault-session-1"),
            CredentialConfig(*NEW, arn=f"{ROLE}/vault-session-2"),
        ),
        domains=(DomainConfig("d-fresh000001", "fresh", ("u",), (SpaceConfig("demo"),)),),
    )
    with start_in_thread(config) as handle:
        yield handle


def _context(emu: EmulatorThread, key: tuple[str, str, str]) -> AwsContext:
    credentials = EnvCredentials(
        access_key_id=key[0],
        secret_access_key=key[1],
        session_token=key[2],
        expiration="2030-01-01T00:00:00Z",
    )
    return AwsContext(
        region="us-east-1", endpoint_url=emu.endpoint_url, credentials=credentials, caller_env=True
    )


def _expire(emu: EmulatorThread) -> None:
    async def advance() -> None:
        emu.emulator.plane.issuer.clock.advance(LIFETIME * 2)

    emu.call(advance)


async def _names(workspaces: Workspaces, context: AwsContext) -> list[str]:
    spaces = await workspaces.get(context).spaces(refresh=True)
    return [s.name for s in spaces]


async def test_expired_exports_carry_on_with_the_newest_of_the_same_principal(
    emu: EmulatorThread,
) -> None:
    workspaces = Workspaces(poll_interval=0.05)
    old, new = _context(emu, OLD), _context(emu, NEW)
    assert await _names(workspaces, old) == ["demo"]  # a session opened from the old shell
    assert await _names(workspaces, new) == ["demo"]  # the re-exported shell reconnects
    assert workspaces.get(old) is not workspaces.get(new)  # two keys, one principal
    assert workspaces.get(old).principal == workspaces.get(new).principal
    _expire(emu)
    # What a resume of the old shell's session does: runs on the old workspace.
    assert await _names(workspaces, old) == ["demo"]


async def test_expired_exports_with_nothing_newer_say_so(emu: EmulatorThread) -> None:
    workspaces = Workspaces(poll_interval=0.05)
    old = _context(emu, OLD)
    assert await _names(workspaces, old) == ["demo"]
    _expire(emu)
    with pytest.raises(ExportedCredentialsExpired) as expired:
        await _names(workspaces, old)
    message = str(expired.value)
    assert message.startswith(
        "the credentials exported in the shell that opened this session expired at "
        "2030-01-01T00:00:00Z; re-export them"
    )
    assert all(secret not in message for secret in OLD)
