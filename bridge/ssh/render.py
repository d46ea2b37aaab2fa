"""Our ssh config file (``~/.ssh/smconnect/config``): its text, and reading it back.

``docs/design/ssh-config.md`` explains every option written here. Rendering is a pure function
of the space list, the options and the paths, and is deterministic (no timestamp), so installing
twice writes nothing. The quoting helpers are here too because ``Include`` (written by
``bridge.ssh.include``) obeys the same path rules.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bridge.ssh.aliases import (
    DEFAULT_PREFIX,
    SpaceRef,
    alias_for,
    check_prefix,
    host_key_alias,
    is_valid_prefix,
)
from bridge.ssh.errors import SshConfigError, UnsupportedPathError
from bridge.ssh.hosts import (
    DEFAULT_CHAIN,
    HostEntry,
    HostIdentity,
    assign_hosts,
    entries_in,
    entry_comment,
)
from bridge.ssh.paths import SshPaths

DEFAULT_USER = "sagemaker-user"

_BAD_PATH_CHARS = re.compile(r'["\\\x00-\x1f\x7f]')
# The documented SageMaker patterns (SpaceName, DomainId). The AWS layer already refuses
# anything else; the renderer checks again because this file is executable configuration: a
# newline in a name would add directives for any host (defence in depth, issue 15).
_SPACE_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_DOMAIN_ID = re.compile(r"d-(-*[a-z0-9]){1,61}")


def _ssh_path(path: Path, what: str) -> str:
    text = path.as_posix()
    if _BAD_PATH_CHARS.search(text):
        raise UnsupportedPathError(
            f"the {what} path {text!r} contains a quote, backslash or control character, which "
            "ssh config files cannot express; use an ssh directory without them"
        )
    return text


def include_arg(path: Path) -> str:
    """``path`` as an ``Include`` argument: quoted, glob characters escaped (no % tokens)."""
    text = re.sub(r"([*?\[\]])", r"\\\1", _ssh_path(path, "smconnect config"))
    return f'"{text}"'


def _percent_path_arg(path: Path, what: str) -> str:
    # These arguments expand % tokens and ${VAR}: double the one, refuse the other.
    text = _ssh_path(path, what)
    if "${" in text:
        raise UnsupportedPathError(
            f"the {what} path {text!r} contains '${{', which ssh would expand as a variable; "
            "use an ssh directory without it"
        )
    return '"' + text.replace("%", "%%") + '"'


def encode_text(text: str) -> bytes:
    """Config text as the bytes we write (undecodable bytes read earlier survive unchanged)."""
    return text.encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class ConfigOptions:
    """What goes into our file; ``smconnect_command`` is the argv that runs this smconnect."""

    smconnect_command: tuple[str, ...]
    prefix: str = DEFAULT_PREFIX
    user: str = DEFAULT_USER
    server_alive_interval: int = 30
    server_alive_count_max: int = 10
    connect_timeout: int = 900
    # ssh takes a descriptor from the proxy (``ProxyUseFdpass yes``) and talks to the daemon
    # directly; False writes the relay form (``smconnect ssh-config install --no-fdpass``).
    fdpass: bool = True

    def __post_init__(self) -> None:
        check_prefix(self.prefix)
        if not self.smconnect_command or not Path(self.smconnect_command[0]).is_absolute():
            raise SshConfigError(
                "the ProxyCommand needs the absolute path of the smconnect executable"
            )
        if any(_BAD_PATH_CHARS.search(a) for a in self.smconnect_command):
            raise UnsupportedPathError(
                f"the smconnect command {' '.join(self.smconnect_command)!r} contains a quote, "
                "backslash or control character; install smconnect under a plainer path"
            )
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.user):
            raise SshConfigError(f"ssh user {self.user!r} is not a valid login name")

    @property
    def proxy_command(self) -> str:
        """The wildcard block's ProxyCommand: no identity of its own (the default chain of the
        shell ssh runs in), for spaces listed since the last refresh."""
        return self.proxy_command_for(DEFAULT_CHAIN)

    def proxy_command_for(self, identity: HostIdentity) -> str:
        """The ProxyCommand value for a host of ``identity``: run by ``$SHELL -c``, with ``%``
        tokens expanded by ssh."""
        argv = (*self.smconnect_command, *identity.args())
        quoted = " ".join(shlex.quote(a) for a in argv)
        flag = " --fdpass" if self.fdpass else ""
        return quoted.replace("%", "%%") + f" proxy{flag} %n"

    @property
    def wildcard(self) -> str:
        return f"{self.prefix}*"


HEADER = (
    "# Managed by smconnect; do not edit: `smconnect ssh-config install` rewrites this file\n"
    "# and `smconnect ssh-config remove` deletes it. Put your own settings in ~/.ssh/config.\n"
)


@dataclass(frozen=True)
class RenderedConfig:
    text: str
    aliases: tuple[str, ...]  # the hosts of the identity just installed
    # Spaces left without an explicit Host because another space's alias differs only in case.
    collisions: tuple[SpaceRef, ...] = ()
    # Spaces left out because their name or domain id is not a documented SageMaker one.
    refused: tuple[SpaceRef, ...] = ()
    entries: tuple[HostEntry, ...] = ()  # every host in the file, of every identity


def is_documented(ref: SpaceRef) -> bool:
    """Whether a space's name and domain id match SageMaker's documented patterns, the only
    values that may be written into an ssh config (even into a comment)."""
    return (
        _SPACE_NAME.fullmatch(ref.name) is not None
        and _DOMAIN_ID.fullmatch(ref.domain_id) is not None
    )


def render_config(
    spaces: Iterable[SpaceRef],
    options: ConfigOptions,
    paths: SshPaths,
    *,
    identity: HostIdentity = DEFAULT_CHAIN,
    existing: Iterable[HostEntry] = (),
) -> RenderedConfig:
    """Our file: an explicit ``Host`` per space of every identity (for editors' host lists),
    each with its identity's ProxyCommand, then the wildcard block holding the shared settings,
    which also serves spaces not listed yet. ``spaces`` replace ``identity``'s hosts among
    ``existing`` (the table read from the file); other identities' hosts stay as they are."""
    identity.check()
    given = {SpaceRef(s.name, s.domain_id) for s in spaces}
    refused = sorted(r for r in given if not is_documented(r))
    refs = sorted(given.difference(refused), key=lambda r: (r.name.lower(), r))
    entries, collisions = assign_hosts(existing, identity, refs, prefix=options.prefix)
    entries.sort(key=lambda e: (e.alias.lower(), e.alias))
    return RenderedConfig(
        text=render_hosts(entries, options, paths),
        aliases=tuple(e.alias for e in entries if e.identity == identity),
        collisions=tuple(collisions),
        refused=tuple(refused),
        entries=tuple(entries),
    )


def names_for(
    spaces: Sequence[SpaceRef],
    identity: HostIdentity,
    existing: Iterable[HostEntry],
    *,
    prefix: str,
) -> dict[SpaceRef, str]:
    """The host name of each space ``identity`` sees: the one ``render_config`` gives it (or
    gave it: ``existing`` is the installed table), else the plain scheme's (a name SageMaker
    does not document, or one differing from another only in case, has no Host of its own)."""
    refs = [SpaceRef(s.name, s.domain_id) for s in spaces]
    documented = sorted({r for r in refs if is_documented(r)})
    entries, _ = assign_hosts(existing, identity, documented, prefix=prefix)
    names = {e.space: e.alias for e in entries if e.identity == identity}
    return {r: names.get(r) or alias_for(r.name, r.domain_id, refs, prefix=prefix) for r in refs}


def render_hosts(entries: Iterable[HostEntry], options: ConfigOptions, paths: SshPaths) -> str:
    """Our file's text for a host table (in the given order), then the wildcard block."""
    blocks = [
        f"{entry_comment(e)}\n"
        f"Host {e.alias}\n"
        f"    HostName {e.alias}\n"
        f"    HostKeyAlias {host_key_alias(e.alias)}\n"
        f"    ProxyCommand {options.proxy_command_for(e.identity)}\n"
        for e in entries
    ]
    blocks.append(
        f"# Every smconnect host, listed above or not.\n"
        f"Host {options.wildcard}\n"
        f"    User {options.user}\n"
        f"    Port 22\n"
        f"    ProxyCommand {options.proxy_command}\n"
        f"    ProxyUseFdpass {'yes' if options.fdpass else 'no'}\n"
        f"    UserKnownHostsFile {_percent_path_arg(paths.known_hosts, 'known_hosts')}\n"
        f"    GlobalKnownHostsFile none\n"
        f"    StrictHostKeyChecking yes\n"
        f"    UpdateHostKeys no\n"
        f"    CheckHostIP no\n"
        f"    ServerAliveInterval {options.server_alive_interval}\n"
        f"    ServerAliveCountMax {options.server_alive_count_max}\n"
        f"    ConnectTimeout {options.connect_timeout}\n"
    )
    return HEADER + "\n" + "\n".join(blocks)


def hosts_in(content: str, wildcard: str) -> tuple[str, ...]:
    """The explicit host aliases in a file ``render_config`` wrote."""
    hosts = []
    for line in content.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "Host" and parts[1] != wildcard:
            hosts.append(parts[1])
    return tuple(hosts)


def _installed_text(paths: SshPaths) -> str:
    """The config smconnect last wrote; empty when nothing is installed."""
    try:
        return paths.our_config.read_text("utf-8", "surrogateescape")
    except OSError:
        return ""


def _settings(content: str) -> list[list[str]]:
    """The two-word lines of one of our files."""
    return [parts for parts in map(str.split, content.splitlines()) if len(parts) == 2]


def _prefix_in(content: str) -> str | None:
    for key, value in _settings(content):
        if key == "Host" and value.endswith("*"):
            prefix = value[:-1]
            return prefix if is_valid_prefix(prefix) else None
    return None


def installed_prefix(paths: SshPaths) -> str | None:
    """The host prefix of the config smconnect last wrote (its ``Host <prefix>*`` block), so a
    custom ``--prefix`` survives every later refresh; None when nothing is installed."""
    return _prefix_in(_installed_text(paths))


def table_of(content: str, prefix: str) -> tuple[HostEntry, ...]:
    """The host table of our file's ``content`` under ``prefix``: hosts written under another
    prefix are renamed, so a new ``--prefix`` keeps every identity's hosts."""
    old = _prefix_in(content)
    entries = entries_in(content)
    if old is None or old == prefix:
        return entries
    return tuple(
        e._replace(alias=prefix + e.alias[len(old) :]) if e.alias.startswith(old) else e
        for e in entries
    )


def installed_table(paths: SshPaths, prefix: str) -> tuple[HostEntry, ...]:
    """The host table of the installed file (``table_of``); empty when nothing is installed."""
    return table_of(_installed_text(paths), prefix)


def installed_fdpass(paths: SshPaths) -> bool | None:
    """Whether the config smconnect last wrote passes descriptors (its ``ProxyUseFdpass``), so
    ``--no-fdpass`` survives later refreshes; None when nothing says (use the default)."""
    for key, value in _settings(_installed_text(paths)):
        if key == "ProxyUseFdpass":
            return value == "yes"
    return None
