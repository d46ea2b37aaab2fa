"""``smconnect ssh [ssh options] SPACE [command…]``: the command line of ``ssh(1)``.

Users who know ssh write ``smconnect ssh -L 9999:127.0.0.1:22 demo``; click alone would take
``-L`` for the space (an unknown option, kept as a positional). ``SshCommand`` splits the
command line before click sees it, the way ssh's getopt would: ssh's options (with the value
that ``-L``, ``-o``, ``-p``… take, joined or as the next word) up to the first word that is
not an option, which is the space; the rest is the remote command, passed after the host as
today (``ssh host -L …`` works too: OpenSSH reads options after the host). Our own options are
only recognised as whole words before the space (``--yes``/``-y``, ``--timeout``,
``--profile``, ``--region``, ``--help``); a ``-y`` inside a bundle such as ``-vy`` is ssh's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import typer.core
from typer import _click

SSH_VALUE_OPTIONS = frozenset("BbcDEeFIiJLlmOopQRSWw")  # those that take an argument, per ssh(1)
OUR_FLAGS = frozenset({"-y", "--yes", "--help"})
OUR_VALUE_OPTIONS = frozenset({"--timeout", "--profile", "--region"})
META_KEY = "smconnect.ssh_options"


@dataclass
class SshArgs:
    ours: list[str] = field(default_factory=list)  # for click
    ssh_options: list[str] = field(default_factory=list)  # for ssh, before the host
    space: str | None = None
    command: list[str] = field(default_factory=list)  # after the host


def split(args: list[str]) -> SshArgs:
    """Split ``[options] SPACE [command…]`` (see the module docstring)."""
    out = SshArgs()
    words = iter(args)
    for word in words:
        if word == "--":
            break
        if word in OUR_FLAGS:
            out.ours.append(word)
        elif word in OUR_VALUE_OPTIONS:
            out.ours += [word, *_next(words)]
        elif word.split("=", 1)[0] in OUR_VALUE_OPTIONS:
            out.ours.append(word)
        elif word.startswith("-") and len(word) > 1:
            out.ssh_options.append(word)
            if _wants_value(word):
                out.ssh_options += _next(words)
        else:
            out.space = word
            break
    rest = list(words)
    if out.space is None and rest:
        out.space, rest = rest[0], rest[1:]
    out.command = rest[1:] if rest[:1] == ["--"] else rest
    return out


def _wants_value(word: str) -> bool:
    """Whether a bundle like ``-vL`` ends with an option whose value is the next word."""
    if word.startswith("--"):
        return False
    for i, letter in enumerate(word[1:], start=1):
        if letter in SSH_VALUE_OPTIONS:
            return i == len(word) - 1  # ``-L9999:…`` carries its value
    return False


def _next(words: Iterator[str]) -> list[str]:
    value = next(words, None)
    return [] if value is None else [value]


class SshCommand(typer.core.TyperCommand):
    """Parses like ssh; ssh's options land in ``ctx.meta`` (see ``ssh_options``)."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        if ctx.resilient_parsing:  # shell completion: click's own parse is good enough
            return super().parse_args(ctx, args)
        parts = split(args)
        ctx.meta[META_KEY] = parts.ssh_options
        positional = [] if parts.space is None else ["--", parts.space, *parts.command]
        return super().parse_args(ctx, [*parts.ours, *positional])


def ssh_options(ctx: _click.Context) -> list[str]:
    """The ssh options ``SshCommand`` found before the space."""
    return list(ctx.meta.get(META_KEY, []))
