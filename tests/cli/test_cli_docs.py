"""docs/cli.md against the real ``smconnect <command> --help``, so the reference cannot drift.

The reference once said that hosts made with ``--prefix`` do not work with ``proxy`` and that
``open`` rewrites them (issue 16); both had stopped being true and nothing noticed. This test
runs the installed console script (not typer's test runner: what users run is what we check)
for every command ``--help`` lists, and holds docs/cli.md to it:

* every command has a ``### `smconnect <command> …``` section;
* each section has an options table whose ``--option`` / ``-o`` rows are exactly the options
  that command's ``--help`` shows (``--help`` itself is documented once, for all);
* no option written in a section is foreign to its command: a code span that starts with an
  option belongs to the section's command, one that starts with ``smconnect <command>`` to that
  command (spans of other programs, like ``ssh -G``, are theirs); an option documented as
  hidden is accepted by the real command line.

The commands ssh and AWS SDKs run (``proxy``, ``credentials``) are routed before typer and show
no ``--help``; they are documented, and must stay out of the command list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from .help_helpers import ALWAYS, DOC, GLOBAL, HIDDEN_COMMANDS, Help, help_tree, renderer

_CODE_SPAN = re.compile(r"`([^`]+)`")
_LONG_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
_TABLE_ROW = re.compile(r"^\|(?P<first>[^|]*)\|")
_HEADING_COMMAND = re.compile(r"`smconnect((?: [a-z][a-z-]*)+)")


@dataclass
class Section:
    """One ``###`` section of docs/cli.md (or the global options section)."""

    heading: str
    commands: list[str]
    table_options: set[str] = field(default_factory=set)
    hidden_options: set[str] = field(default_factory=set)
    text_options: set[tuple[str, str]] = field(default_factory=set)  # (command or "", option)


def _commands_in_heading(heading: str) -> list[str]:
    return [m.group(1).strip() for m in _HEADING_COMMAND.finditer(heading)]


def _command_in_span(span: str) -> str:
    """The longest command path named in ``smconnect [options] command [subcommand] …``."""
    known = set(help_tree()) | HIDDEN_COMMANDS
    words = [w for w in span.split()[1:] if not w.startswith("-")]
    pairs = [" ".join(words[i : i + 2]) for i in range(len(words) - 1)]
    found = [p for p in pairs if p in known] or [w for w in words if w in known]
    return found[0] if found else GLOBAL


def _options_in_spans(line: str) -> set[tuple[str, str]]:
    """(command, option) for each option in a code span of ours; command "" = the section's."""
    found: set[tuple[str, str]] = set()
    for span in _CODE_SPAN.findall(line):
        if span.startswith("-"):
            found |= {("", o) for o in _LONG_OPTION.findall(span)}
        elif span.startswith("smconnect"):
            found |= {(_command_in_span(span), o) for o in _LONG_OPTION.findall(span)}
    return found


@cache
def doc_sections() -> list[Section]:
    sections: list[Section] = []
    current: Section | None = None
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            is_global = "global options" in line.lower()
            current = Section(line, [GLOBAL]) if is_global else None
            if current:
                sections.append(current)
            continue
        if line.startswith("### "):
            current = Section(line, _commands_in_heading(line))
            sections.append(current)
        if current is None:
            continue
        current.text_options |= _options_in_spans(line)
        row = _TABLE_ROW.match(line)
        if row:
            names = set(re.findall(r"`(-{1,2}[A-Za-z][\w-]*)", row["first"]))
            current.table_options |= names
            if "(hidden)" in row["first"]:
                current.hidden_options |= names
    return sections


def _section_of(command: str) -> Section:
    found = [s for s in doc_sections() if command in s.commands]
    assert found, f"docs/cli.md has no section for `smconnect {command}`"
    assert len(found) == 1, f"`smconnect {command}` has {len(found)} sections in docs/cli.md"
    return found[0]


def _leaf_commands() -> list[str]:
    tree = help_tree()
    return [path for path, screen in tree.items() if path != GLOBAL and not screen.commands]


def _accepts_hidden(command: str, option: str) -> bool:
    path = () if command == GLOBAL else tuple(command.split())
    argv = [option, "x", *path] if command == GLOBAL else [*path, option, "x"]
    code, _ = renderer().run(*argv, "--help")
    return code == 0


def test_every_command_has_a_section() -> None:
    missing = [c for c in _leaf_commands() if not any(c in s.commands for s in doc_sections())]
    assert not missing, f"commands `--help` lists but docs/cli.md does not document: {missing}"


def test_every_section_names_a_real_command() -> None:
    real = set(help_tree()) | HIDDEN_COMMANDS
    unknown = [c for s in doc_sections() for c in s.commands if c not in real]
    assert not unknown, f"docs/cli.md documents commands that do not exist: {unknown}"


def test_internal_commands_stay_out_of_help() -> None:
    listed = set(help_tree()[GLOBAL].commands)
    assert not (HIDDEN_COMMANDS & listed), "a command ssh runs is now listed: document it fully"
    for command in HIDDEN_COMMANDS:
        assert _section_of(command)


def test_options_tables_match_help() -> None:
    problems: list[str] = []
    for command in [GLOBAL, *_leaf_commands()]:
        shown = help_tree()[command].options - ALWAYS
        section = _section_of(command)
        documented = section.table_options - section.hidden_options
        if shown - section.table_options:
            problems.append(f"{command}: undocumented {sorted(shown - section.table_options)}")
        if documented - shown:
            problems.append(f"{command}: documented but absent {sorted(documented - shown)}")
    assert not problems, "docs/cli.md options tables vs --help:\n" + "\n".join(problems)


def test_no_foreign_option_in_prose() -> None:
    """An ``--option`` written in a section must belong to that section's command(s)."""
    tree = help_tree()
    problems = []
    for section in doc_sections():
        if any(c in HIDDEN_COMMANDS for c in section.commands):
            continue
        own = set(section.hidden_options)
        for command in section.commands:
            own |= tree[command].options
        foreign = set()
        for command, option in section.text_options:
            allowed = own if not command else tree.get(command, Help(frozenset(), ())).options
            if option not in allowed | ALWAYS | tree[GLOBAL].options | section.hidden_options:
                foreign.add(f"{command or section.commands[0]} {option}")
        if foreign:
            problems.append(f"{section.heading}: {sorted(foreign)}")
    assert not problems, "options that do not exist:\n" + "\n".join(problems)


def test_hidden_options_are_accepted() -> None:
    for section in doc_sections():
        for command in section.commands:
            for option in section.hidden_options:
                assert _accepts_hidden(command, option), f"{command} rejects {option}"
