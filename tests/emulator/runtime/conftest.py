"""One started JupyterLab runtime shared by a test module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from bridge.emulator.runtime import SpaceRuntime

from .runtime_helpers import started


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def jupyterlab(tmp_path_factory: Any) -> AsyncIterator[SpaceRuntime]:
    root: Path = tmp_path_factory.mktemp("jl")
    async with started(SpaceRuntime(space_name="demo-jl", app_type="JupyterLab", root=root)) as rt:
        yield rt
