"""Nothing unprintable reaches the terminal through the CLI's output paths (issue 15)."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.table import Table

from bridge.cli import output

HOSTILE = "e\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m\x9b31m\r\x08\udcff"


def test_say_shows_control_characters_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    output.say(f"no space named {HOSTILE}")
    err = capsys.readouterr().err
    assert err.startswith("smconnect: no space named e\\x1b]0;pwned\\x07\\x1b[2J")
    assert err.count("\n") == 1
    assert not any(c in err for c in "\x1b\x07\r\x08\x9b")


def test_a_table_cell_is_escaped_and_never_markup() -> None:
    console = Console(width=200, force_terminal=False, record=True)
    table = Table()
    table.add_column("Space")
    table.add_row(output.cell(f"[bold]{HOSTILE}"))
    table.add_row(output.cell(None))
    console.print(table)
    text = console.export_text()
    assert "[bold]e\\x1b]0;pwned" in text
    assert not any(c in text for c in "\x1b\x07\r\x08\x9b")


def test_warn_rejected_prints_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    output.warn_rejected(
        {"rejected": ["AWS answered ListSpaces with an invalid SpaceName 'x'", "b\ny"]}
    )
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "smconnect: warning: AWS answered ListSpaces with an invalid SpaceName 'x'",
        "smconnect: warning: b\\ny",
    ]
    output.warn_rejected({"spaces": []})
    assert capsys.readouterr().err == ""
