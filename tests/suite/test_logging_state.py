"""The suite's logging guard (``tests/support/logging_state.py``, used by ``tests/conftest.py``):
what a test changes in the process's logging is named and put back."""

from __future__ import annotations

import logging

from tests.support.logging_state import Snapshot


def test_a_leak_is_named_and_put_back() -> None:
    root = logging.getLogger()
    websockets = logging.getLogger("websockets")
    level, ws_level, ws_propagate = root.level, websockets.level, websockets.propagate
    handlers = list(root.handlers)
    before = Snapshot.take()
    # What ``bridge.daemon.logsetup.setup_logging`` and friends do in-process.
    root.setLevel(logging.DEBUG)
    websockets.setLevel(logging.DEBUG if ws_level != logging.DEBUG else logging.INFO)
    websockets.propagate = not ws_propagate
    added = logging.NullHandler()
    root.addHandler(added)
    logging.disable(logging.CRITICAL)
    new = logging.getLogger("tests.suite.created-in-the-test")
    new.setLevel(logging.DEBUG)  # a logger the test made is not a leak of state before it

    changes = before.restore()

    assert root.level == level and root.handlers == handlers
    assert (websockets.level, websockets.propagate) == (ws_level, ws_propagate)
    assert logging.root.manager.disable == before.disable
    assert any(c.startswith("logger <root>: ") and c.endswith("-> DEBUG") for c in changes)
    assert any(c.startswith("logger websockets: ") for c in changes)
    assert any(c.startswith("root handler added: <NullHandler") for c in changes)
    assert any(c.startswith("logging.disable: ") for c in changes)
    assert not any("created-in-the-test" in c for c in changes)
    assert before.restore() == []  # nothing left to put back


def test_nothing_changed_reports_nothing() -> None:
    assert Snapshot.take().restore() == []
