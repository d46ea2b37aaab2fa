"""Progress of a long daemon call (starting an app takes minutes on AWS), fed by the daemon's
``progress`` notifications.

On a terminal: a rich spinner, the elapsed time and the latest message, erased when done.
Elsewhere (CI logs, pipes): one plain stderr line per new message, so a log still tells the
story without spinner noise.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from bridge.cli import output

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class ProgressDisplay:
    """A context manager, and the ``on_notification`` callback of ``DaemonClient.call``."""

    def __init__(self, title: str, first: str = "asking the daemon") -> None:
        self.title = title
        self._first = first
        self._rich: Progress | None = None
        self._task: TaskID | None = None
        self._last: str | None = None
        self._started = time.monotonic()
        self.phases: list[str] = []  # the daemon's progress phases, in order (Ctrl-C reports)

    def __enter__(self) -> ProgressDisplay:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._started = time.monotonic()
        if output.stderr().is_terminal:
            self._rich = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                TimeElapsedColumn(),
                console=output.stderr(),
                transient=True,
            )
            self._rich.start()
            self._task = self._rich.add_task(self._line(self._first))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None

    def __call__(self, method: str, params: dict[str, Any]) -> None:
        if method == "progress" and isinstance(params.get("message"), str):
            self.phases.append(str(params.get("phase")))
            self.update(params["message"])
        elif method == "credentials" and params.get("state") in ("expired", "expiring"):
            # The daemon says only a sign-in helps (it names the command): show it at once.
            with self.paused():
                output.say(str(params.get("message") or "your AWS credentials need a sign-in"))

    def update(self, message: str) -> None:
        if self._rich is not None and self._task is not None:
            self._rich.update(self._task, description=self._line(message))
        elif message != self._last:
            elapsed = time.monotonic() - self._started
            output.say(f"[{elapsed:4.0f}s] {self._line(message)}")
        self._last = message

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hide the spinner while the user answers a question."""
        if self._rich is None:
            yield
            return
        self._rich.stop()
        try:
            yield
        finally:
            self._rich.start()

    def _line(self, message: str) -> str:
        return f"{self.title}: {message}"
