"""Reused descriptions (``Workspace.describe(max_age=…)``) against the emulator: one made
without the app's activity is never handed to a caller that asks for the activity."""

from __future__ import annotations

import pytest

from bridge.emulator import EmulatorThread

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
