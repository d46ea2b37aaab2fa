"""One emulator and one autostarted daemon for the module, as a user's machine would have them.

The daemon is spawned by the first call, with a temp HOME / runtime / state directory, and shut
down at the end. Notebook traffic goes through the daemon's local Jupyter URL only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .kernels_helpers import Stack, running_stack


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("home")) as stack:
        yield stack
