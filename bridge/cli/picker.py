"""A list picker for the terminal: arrow keys to move, typing to filter, Enter to choose.

Used when a command that needs a space is given none on a terminal (``smconnect ssh``, like
``gh codespace ssh``). A few dozen lines of raw-tty handling instead of a dependency: the
picker draws on stderr (stdout stays for results) and reads keys from stdin in cbreak mode,
which it restores whatever happens. ``Picker`` holds the state and is driven by key names, so
the behaviour is the same whether the keys come from a terminal or a test.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import sys
import termios
import tty
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from bridge.cli.output import safe

__all__ = ["Choice", "Picker", "PickerCancelled", "keys", "pick"]

VISIBLE = 10  # matches shown at once; the list scrolls with the selection

# Escape sequences terminals send for the keys we use (xterm's normal and application modes).
_SEQUENCES = {
    "\x1b[A": "up",
    "\x1bOA": "up",
    "\x1b[B": "down",
    "\x1bOB": "down",
    "\x10": "up",  # Ctrl-P
    "\x0e": "down",  # Ctrl-N
    "\r": "enter",
    "\n": "enter",
    "\x7f": "backspace",
    "\x08": "backspace",
    "\x15": "clear",  # Ctrl-U
    "\x03": "cancel",  # Ctrl-C (cbreak mode still delivers SIGINT; raw input would not)
    "\x04": "cancel",  # Ctrl-D
}
_CSI = re.compile(r"\x1b[\[O][0-9;?]*[@-~]")


class PickerCancelled(Exception):
    """The user left the picker without choosing (Esc, Ctrl-D)."""


@dataclass(frozen=True)
class Choice:
    value: str
    detail: str = ""


@dataclass
class Picker:
    """The picker's state: what is typed, what matches, which match is selected."""

    choices: Sequence[Choice]
    query: str = ""
    index: int = 0
    _top: int = field(default=0, repr=False)

    def matches(self) -> list[Choice]:
        """Choices whose value contains the query (case-insensitive), prefix matches first."""
        q = self.query.lower()
        hits = [c for c in self.choices if q in c.value.lower()]
        return sorted(hits, key=lambda c: not c.value.lower().startswith(q))

    def handle(self, key: str) -> str | None:
        """Apply one key (a name from ``keys`` or a typed character); the chosen value on
        Enter, else None."""
        count = len(self.matches())
        if key == "up":
            self.index = max(self.index - 1, 0)
        elif key == "down":
            self.index = min(self.index + 1, max(count - 1, 0))
        elif key == "enter":
            return self.matches()[self.index].value if count else None
        elif key == "cancel":
            raise PickerCancelled
        elif key in ("backspace", "clear"):
            self.query = self.query[:-1] if key == "backspace" else ""
            self.index = 0
        elif len(key) == 1 and key.isprintable():
            self.query += key
            self.index = 0
        return None

    def lines(self, title: str, width: int) -> list[str]:
        """The picker's screen: a prompt line, then the visible matches."""
        matches = self.matches()
        self._top = min(max(self._top, self.index - VISIBLE + 1), self.index)
        shown = matches[self._top : self._top + VISIBLE]
        out = [f"? {title} {safe(self.query)}"]
        for i, c in enumerate(shown, start=self._top):
            mark = ">" if i == self.index else " "
            out.append(f"{mark} {safe(c.value)}" + (f"  {safe(c.detail)}" if c.detail else ""))
        if not matches:
            out.append(f"  (nothing matches {safe(self.query)!r})")
        elif len(matches) > len(shown):
            out.append(f"  ({len(matches) - len(shown)} more)")
        return [line[: max(width - 1, 10)] for line in out]


def keys(chunk: str) -> Iterator[str]:
    """Key names in what one read returned: escape sequences, control keys, typed text."""
    i = 0
    while i < len(chunk):
        if chunk[i] != "\x1b":
            yield _SEQUENCES.get(chunk[i], chunk[i])
            i += 1
        elif chunk[i : i + 3] in _SEQUENCES:
            yield _SEQUENCES[chunk[i : i + 3]]
            i += 3
        elif i + 1 == len(chunk):
            yield "cancel"  # Esc alone
            i += 1
        else:  # a sequence we do not use (left/right, F-keys…): skip to its final byte
            match = _CSI.match(chunk, i)
            i = match.end() if match else i + 2


def pick(title: str, choices: Sequence[Choice], *, out: TextIO = sys.stderr) -> str:
    """Let the user choose one of ``choices`` on the terminal; raises ``PickerCancelled`` or
    ``KeyboardInterrupt`` if they leave without choosing."""
    picker = Picker(choices)
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    drawn = 0
    try:
        tty.setcbreak(fd)
        while True:
            width = shutil.get_terminal_size().columns
            screen = picker.lines(title, width)
            up = f"\x1b[{drawn - 1}A" if drawn > 1 else ""
            out.write(up + "\r\x1b[J" + "\n".join(screen))
            out.flush()
            drawn = len(screen)
            data = os.read(fd, 64)
            if not data:
                raise PickerCancelled
            for key in keys(decoder.decode(data)):
                chosen = picker.handle(key)
                if chosen is not None:
                    return chosen
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        up = f"\x1b[{drawn - 1}A" if drawn > 1 else ""
        out.write(up + "\r\x1b[J")  # leave no picker behind: the command's output follows
        out.flush()
