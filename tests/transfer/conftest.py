"""One emulator and daemon for the package, as the Jupyter end-to-end tests have it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.daemon.jupyter.kernels_helpers import Stack, running_stack


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("home")) as stack:
        yield stack
