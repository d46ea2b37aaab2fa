"""The process's logging configuration around each test, kept from leaking into the next one.

Tests run in one process, and logging is process-wide state: a test that configures it in-process
(``bridge.daemon.logsetup.setup_logging``, ``logging.basicConfig``) and does not undo all of it
changes how every later test runs. This has bitten: a root logger left at DEBUG puts websockets
in debug mode, which turns our batch receiver (``bridge.ssm.wsbatch``) off, and a download test
far away saw no read hold. ``tests/conftest.py`` takes a ``Snapshot`` before each test and, after
it, restores what changed and names the test (``Snapshot.restore`` returns the changes).

What is kept: every existing logger's level, ``disabled`` and ``propagate`` flags (loggers a
test creates are new, not a leak), the root logger's handlers, and ``logging.disable``. Pytest's
own capture handlers are the same objects in a test's setup and teardown, so they compare
equal. Cost: one pass over ``logging.Logger.manager.loggerDict`` (a few hundred entries).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

ROOT = "<root>"


@dataclass(frozen=True)
class _Logger:
    level: int
    disabled: bool
    propagate: bool


@dataclass
class Snapshot:
    """The logging state to come back to; ``take()`` it, then ``restore()`` after the test."""

    loggers: dict[str, _Logger] = field(default_factory=dict)
    root_handlers: list[logging.Handler] = field(default_factory=list)
    disable: int = logging.NOTSET

    @classmethod
    def take(cls) -> Snapshot:
        snapshot = cls(
            root_handlers=list(logging.root.handlers),
            disable=logging.root.manager.disable,
        )
        for name, logger in _loggers():
            snapshot.loggers[name] = _Logger(logger.level, logger.disabled, logger.propagate)
        return snapshot

    def restore(self) -> list[str]:
        """Put back what changed since ``take()``; returns one line per change (empty: none)."""
        changes: list[str] = []
        for name, logger in _loggers():
            kept = self.loggers.get(name)
            if kept is None:
                continue
            now = _Logger(logger.level, logger.disabled, logger.propagate)
            if now != kept:
                changes.append(f"logger {name}: {_show(kept)} -> {_show(now)}")
                logger.setLevel(kept.level)
                logger.disabled = kept.disabled
                logger.propagate = kept.propagate
        for handler in [h for h in logging.root.handlers if h not in self.root_handlers]:
            changes.append(f"root handler added: {handler!r}")
            logging.root.removeHandler(handler)
            handler.close()
        for handler in [h for h in self.root_handlers if h not in logging.root.handlers]:
            changes.append(f"root handler removed: {handler!r}")
            logging.root.addHandler(handler)
        if logging.root.manager.disable != self.disable:
            changes.append(f"logging.disable: {self.disable} -> {logging.root.manager.disable}")
            logging.disable(self.disable)
        return changes


def _loggers() -> list[tuple[str, logging.Logger]]:
    found: list[tuple[str, logging.Logger]] = [(ROOT, logging.root)]
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):  # not a PlaceHolder
            found.append((name, logger))
    return found


def _show(state: _Logger) -> str:
    flags = " disabled" if state.disabled else ""
    flags += "" if state.propagate else " no-propagate"
    return logging.getLevelName(state.level) + flags
