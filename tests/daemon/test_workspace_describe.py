"""Reused descriptions (``Workspace.describe(max_age=…)``) against the emulator: one made
without the app's activity is never handed to a caller that asks for the activity."""

from __future__ import annotations

import asyncio

import pytest

from bridge.aws.context import AwsContext
from bridge.daemon.workspace import Workspaces
from bridge.emulator import EmulatorThread
from bridge.ssh.aliases import SpaceRef

from .daemon_helpers import running_space


async def test_a_description_without_activity_is_not_reused_for_one_with_it(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, space = await running_space(emulator, monkeypatch)
    lean = await ws.describe(space.domain_id, space.name, activity=False)
    assert lean.last_activity is None
    assert await ws.describe(space.domain_id, space.name, max_age=60, activity=False) is lean
    full = await ws.describe(space.domain_id, space.name, max_age=60, activity=True)
    assert full is not lean and full.last_activity is not None
    # the fuller one now serves both kinds of caller
    assert await ws.describe(space.domain_id, space.name, max_age=60, activity=False) is full
    assert await ws.describe(space.domain_id, space.name, max_age=60) is full


async def test_a_spaces_arn_is_known_from_any_identity_of_the_endpoint_or_built(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the early StartSession (``early.py``) is sent on: an ARN described by another
    identity of the same endpoint, or built from an ARN of the same domain; one it cannot know
    is None. The built one is the one AWS gives, and starts a session."""
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    workspaces = Workspaces(poll_interval=0.05)
    first = workspaces.get(AwsContext(region=emulator.env["AWS_DEFAULT_REGION"]))
    other = workspaces.get(AwsContext())  # another identity key (no region sent)
    assert first.key != other.key
    editor, demo = SpaceRef("editor", "d-emulator00001"), SpaceRef("demo", "d-emulator00001")
    assert other.known_arn(editor) is None and other.known_arn(demo) is None
    described = await first.describe(editor.domain_id, editor.name, activity=False)
    assert other.known_arn(editor) == described.arn
    built = other.known_arn(demo)
    assert built == (await other.describe(demo.domain_id, demo.name, activity=False)).arn
    assert other.known_arn(SpaceRef("x", "d-elsewhere")) is None
    space = await other.resolve("editor")
    await other.run(lambda studio: studio.start_app(space))
    # Like the service, the emulator answers StartSession with InternalFailure for a moment
    # after the app is InService (the fixture's window: 0.2 s of its loop's clock), and
    # try_start_session does not retry: ask until that passes. An ARN the service does not
    # know is refused for good, so the wait ends in a timeout and the test fails.
    grant = None
    async with asyncio.timeout(10):
        while grant is None:
            grant = await other.run(lambda studio: studio.try_start_session(described.arn))
            if grant is None:
                await asyncio.sleep(0.05)
    await other.run(lambda studio: studio.terminate_session(grant.session_id))
    await other.run(lambda studio: studio.stop_app(space))
