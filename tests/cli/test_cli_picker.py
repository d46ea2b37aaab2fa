"""The space picker (issue 16): ``open``, ``ssh``, ``kernels`` and ``forward`` with no space.

On a terminal (a real pty, the real console script, keys as a terminal sends them) the user
picks with the arrow keys and by typing; without one, the usage error lists the spaces. The
tests share one daemon (``module_cli``): none depends on which apps the others started.
"""

from __future__ import annotations

import pexpect

from bridge.cli.picker import Choice, Picker, keys

from .cli_helpers import OTHER_DOMAIN, SMCONNECT, Cli

DOWN = "\x1b[B"
UP = "\x1b[A"


def _spawn(cli: Cli, *args: str) -> pexpect.spawn:
    child = pexpect.spawn(
        SMCONNECT, list(args), env=cli.env, encoding="utf-8", timeout=60, dimensions=(24, 100)
    )
    child.expect_exact("Space (type to filter")
    return child


def _finish(child: pexpect.spawn) -> tuple[str, int]:
    child.expect(pexpect.EOF)
    child.close()
    return str(child.before), int(child.exitstatus if child.exitstatus is not None else -1)


def _succeeds(child: pexpect.spawn) -> str:
    out, status = _finish(child)
    assert status == 0, out
    return out


def test_typing_filters_and_enter_opens_the_match(module_cli: Cli) -> None:
    child = _spawn(module_cli, "open", "--no-editor")
    child.send("edi")
    child.expect_exact("> editor")
    child.send("\r")
    out = _succeeds(child)
    assert "Space editor is ready" in out and "ssh " in out


def test_arrow_keys_move_through_the_matches(module_cli: Cli) -> None:
    """``twin`` is in two domains: typed, it leaves both; Down, Down (past the end), Up, Down
    picks the second, whose domain the opened space reports."""
    child = _spawn(module_cli, "open", "--json")
    child.send("twin")
    child.expect_exact(f"{OTHER_DOMAIN}/twin")
    for key in (DOWN, DOWN, UP, DOWN):
        child.send(key)
    child.send("\r")
    out = _succeeds(child)
    assert f'"domain_id": "{OTHER_DOMAIN}"' in out


def test_escape_leaves_without_choosing(module_cli: Cli) -> None:
    child = _spawn(module_cli, "kernels")
    child.send("\x1b")
    out, status = _finish(child)
    assert status == 2 and "no space chosen" in out, out


def test_forward_picks_a_space_then_asks_for_ports(module_cli: Cli) -> None:
    child = _spawn(module_cli, "forward", "--background")
    child.send("demo\r")
    child.expect_exact("Ports to forward to demo")
    child.send("0:8888\r")
    out = _succeeds(child)
    assert "demo:8888 in the background" in out


def test_without_a_terminal_the_usage_error_lists_the_spaces(module_cli: Cli) -> None:
    for command in ("open", "ssh", "kernels", "forward"):
        line = module_cli.run(command).fails(
            2, f"smconnect {command} needs a space", "spaces: ", "editor"
        )
        assert f"{OTHER_DOMAIN}/twin" in line
    assert "[LOCAL:]REMOTE" in module_cli.run("forward").fails(2)


def test_key_parsing_and_scrolling() -> None:
    assert list(keys("ab\x1b[B\x1bOA\x7f\r")) == ["a", "b", "down", "up", "backspace", "enter"]
    assert list(keys("\x1b[1;5Cx\x1b")) == ["x", "cancel"]  # Ctrl-Right skipped; Esc alone
    picker = Picker([Choice(f"space{i:02}") for i in range(30)])
    for _ in range(15):
        picker.handle("down")
    screen = picker.lines("Space:", 80)
    assert "> space15" in screen and "  space06" in screen and "  space05" not in screen
    assert screen[-1] == "  (20 more)"
    for char in "space2":
        picker.handle(char)
    assert picker.index == 0 and len(picker.matches()) == 10  # typing starts at the top
    prefixed = Picker([Choice("big-demo"), Choice("Demo2"), Choice("other")], query="demo")
    assert [c.value for c in prefixed.matches()] == ["Demo2", "big-demo"]  # prefix first
