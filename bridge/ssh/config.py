"""The ssh configuration smconnect owns, and the one line of the user's ssh config it needs.

smconnect writes its hosts to a file of its own (``~/.ssh/smconnect/config``) and adds a marked
``Include`` of that file as the very first line of ``~/.ssh/config``: an ``Include`` placed after
a ``Host``/``Match`` line would only apply inside that block, and ssh takes the first value it
sees for each option, so being first also means a user's ``Host *`` defaults cannot break our
hosts. Everything else in the user's file is kept byte for byte. ``docs/design/ssh-config.md``
explains every option we write.

The CLI (``smconnect ssh-config install|show|remove``) and the daemon (refreshing the host list
after listing spaces) both drive ``SshConfig``. Errors derive from ``SshConfigError``; ``str()``
of one is a single line a user can act on.
"""

from __future__ import annotations

import re
import shlex
import shutil
import string
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from bridge import fsutil

DEFAULT_PREFIX = "sm-"
DEFAULT_USER = "sagemaker-user"
INSTALL_COMMAND = "smconnect ssh-config install"
REMOVE_COMMAND = "smconnect ssh-config remove"

# ---------------------------------------------------------------------------------------------
# Errors


class SshConfigError(Exception):
    """Base of this subsystem's errors: ``str()`` is one line naming the problem and the fix."""


class InvalidAliasError(SshConfigError):
    """A host name is not one of ours, or a prefix/space name cannot be turned into one."""


class UnknownSpaceError(SshConfigError):
    """An alias names no known space."""


class AmbiguousAliasError(SshConfigError):
    """An unqualified alias matches spaces in several domains."""

    def __init__(self, alias: str, candidates: Sequence[str]) -> None:
        super().__init__(
            f"{alias} matches spaces in {len(candidates)} domains; "
            f"use one of: {', '.join(candidates)}"
        )
        self.alias = alias
        self.candidates = tuple(candidates)


class UnsupportedPathError(SshConfigError):
    """A path contains characters ssh's config syntax cannot carry."""


class UserConfigUnreadableError(SshConfigError):
    """The user's ssh config could not be read; nothing was written."""


class UserConfigSyntaxError(SshConfigError):
    """ssh itself rejects the configuration; the message is ssh's own first error line."""

    def __init__(self, ssh_message: str, file: str | None = None, line: int | None = None) -> None:
        where = f"{file} at line {line}" if file and line else "your ssh config"
        super().__init__(
            f"ssh reports an error in {where}: {ssh_message.rstrip('.')}; "
            f"fix it, then run `{INSTALL_COMMAND}` again"
        )
        self.ssh_message = ssh_message
        self.file = file
        self.line = line


class ConcurrentModificationError(SshConfigError):
    """A file changed between our read and our write; nothing was written."""


class SshNotFoundError(SshConfigError):
    """The OpenSSH client is not installed (or not on PATH)."""


class NotEffectiveError(SshConfigError):
    """ssh does not apply our settings to our hosts (something overrides them)."""


# ---------------------------------------------------------------------------------------------
# Paths


@dataclass(frozen=True)
class SshPaths:
    """Where the user's ssh config and smconnect's own files live (injectable for tests)."""

    ssh_dir: Path
    user_config: Path
    smconnect_dir: Path

    @classmethod
    def for_home(cls, home: Path | None = None) -> SshPaths:
        return cls.in_ssh_dir((home if home is not None else Path.home()) / ".ssh")

    @classmethod
    def in_ssh_dir(cls, ssh_dir: Path, user_config: Path | None = None) -> SshPaths:
        ssh_dir = ssh_dir.absolute()
        return cls(
            ssh_dir=ssh_dir,
            user_config=(user_config or ssh_dir / "config").absolute(),
            smconnect_dir=ssh_dir / "smconnect",
        )

    @property
    def our_config(self) -> Path:
        return self.smconnect_dir / "config"

    @property
    def known_hosts(self) -> Path:
        return self.smconnect_dir / "known_hosts"


# ---------------------------------------------------------------------------------------------
# Host aliases
#
# ``<prefix><space>`` or, for a space name found in several domains, ``<prefix><space>.<domain>``.
# SageMaker names are letters, digits and hyphens, which pass through unchanged; any other
# character becomes ``_xx`` per UTF-8 byte, so every alias is a plain ssh host name (no pattern
# characters, no whitespace) and decodes back to exactly the name it came from. ssh matches
# ``Host`` patterns case-insensitively, so names are compared case-insensitively too.


class SpaceRef(NamedTuple):
    """A space as the alias scheme needs it; any ``(name, domain_id)`` pair works too."""

    name: str
    domain_id: str


_PLAIN = frozenset(string.ascii_letters + string.digits + "-")
_PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_ESCAPE_RE = re.compile(r"_([0-9a-fA-F]{2})")


def _check_prefix(prefix: str) -> None:
    if not _PREFIX_RE.match(prefix):
        raise InvalidAliasError(
            f"host prefix {prefix!r} is not usable: it must start with a letter or digit and "
            "contain only letters, digits, '-', '_' and '.'"
        )


def _encode(name: str) -> str:
    return "".join(
        ch if ch in _PLAIN else "".join(f"_{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        for ch in name
    )


def _decode(part: str, alias: str) -> str:
    out = bytearray()
    i = 0
    while i < len(part):
        ch = part[i]
        if ch in _PLAIN:
            out += ch.encode()
            i += 1
            continue
        m = _ESCAPE_RE.match(part, i)
        if m is None:
            raise InvalidAliasError(f"{alias!r} is not a valid smconnect host name")
        out.append(int(m.group(1), 16))
        i = m.end()
    try:
        name = out.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise InvalidAliasError(f"{alias!r} is not a valid smconnect host name") from None
    if not name or _encode(name).lower() != part.lower():
        raise InvalidAliasError(f"{alias!r} is not a valid smconnect host name")
    return name


def alias_for(
    space: str,
    domain_id: str,
    all_spaces: Iterable[tuple[str, str]],
    *,
    prefix: str = DEFAULT_PREFIX,
) -> str:
    """The ssh host name for a space: qualified by domain only when its name is not unique."""
    _check_prefix(prefix)
    if not space or not domain_id:
        raise InvalidAliasError("a space needs a non-empty name and domain id to get a host name")
    domains = {d.lower() for n, d in all_spaces if n.lower() == space.lower()}
    domains.add(domain_id.lower())
    base = prefix + _encode(space)
    return base if len(domains) == 1 else f"{base}.{_encode(domain_id)}"


def parse_alias(alias: str, *, prefix: str = DEFAULT_PREFIX) -> tuple[str, str | None]:
    """Invert ``alias_for``: ``(space name, domain id or None)``."""
    _check_prefix(prefix)
    if not alias.lower().startswith(prefix.lower()):
        raise InvalidAliasError(
            f"{alias!r} is not an smconnect host: smconnect hosts start with {prefix!r}"
        )
    rest = alias[len(prefix) :]
    name_part, dot, domain_part = rest.partition(".")
    space = _decode(name_part, alias)
    return space, (_decode(domain_part, alias) if dot else None)


def resolve_alias(
    alias: str, spaces: Iterable[tuple[str, str]], *, prefix: str = DEFAULT_PREFIX
) -> SpaceRef:
    """The space an alias (as typed, any case) names among ``spaces``."""
    name, domain = parse_alias(alias, prefix=prefix)
    matches = sorted(
        {
            SpaceRef(n, d)
            for n, d in spaces
            if n.lower() == name.lower() and (domain is None or d.lower() == domain.lower())
        }
    )
    if not matches:
        where = f" in domain {domain}" if domain else ""
        raise UnknownSpaceError(
            f"no space named {name!r}{where} is visible to your AWS identity; "
            "check the name, region and profile"
        )
    if len(matches) > 1:
        raise AmbiguousAliasError(
            alias,
            [f"{prefix}{_encode(m.name)}.{_encode(m.domain_id)}" for m in matches],
        )
    return matches[0]


def host_key_alias(alias: str) -> str:
    """The name ssh looks up in known_hosts for ``alias``: ssh lower-cases host names first."""
    return alias.lower()


# ---------------------------------------------------------------------------------------------
# Rendering our file

_BAD_PATH_CHARS = re.compile(r'["\\\x00-\x1f\x7f]')


def _ssh_path(path: Path, what: str) -> str:
    text = path.as_posix()
    if _BAD_PATH_CHARS.search(text):
        raise UnsupportedPathError(
            f"the {what} path {text!r} contains a quote, backslash or control character, which "
            "ssh config files cannot express; use an ssh directory without them"
        )
    return text


def _include_arg(path: Path) -> str:
    # Include globs its argument: escape the glob characters; it does not expand % tokens.
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


@dataclass(frozen=True)
class ConfigOptions:
    """What goes into our file; ``smconnect_command`` is the argv that runs this smconnect."""

    smconnect_command: tuple[str, ...]
    prefix: str = DEFAULT_PREFIX
    user: str = DEFAULT_USER
    server_alive_interval: int = 30
    server_alive_count_max: int = 10
    connect_timeout: int = 900

    def __post_init__(self) -> None:
        _check_prefix(self.prefix)
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
        """The ProxyCommand value: run by ``$SHELL -c``, with ``%`` tokens expanded by ssh."""
        quoted = " ".join(shlex.quote(a) for a in self.smconnect_command)
        return quoted.replace("%", "%%") + " proxy %n"

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
    aliases: tuple[str, ...]
    # Spaces left without an explicit Host because another space's alias differs only in case.
    collisions: tuple[SpaceRef, ...] = ()


def render_config(
    spaces: Iterable[tuple[str, str]], options: ConfigOptions, paths: SshPaths
) -> RenderedConfig:
    """Our file: an explicit ``Host`` per space (for editors' host lists), then the wildcard
    block holding every setting, which also serves spaces not listed yet."""
    refs = sorted({SpaceRef(n, d) for n, d in spaces}, key=lambda r: (r.name.lower(), r))
    blocks: list[str] = []
    aliases: list[str] = []
    seen: set[str] = set()
    collisions: list[SpaceRef] = []
    for ref in refs:
        alias = alias_for(ref.name, ref.domain_id, refs, prefix=options.prefix)
        if alias.lower() in seen:
            collisions.append(ref)
            continue
        seen.add(alias.lower())
        aliases.append(alias)
        blocks.append(
            f"# space {ref.name!r} in domain {ref.domain_id}\n"
            f"Host {alias}\n"
            f"    HostName {alias}\n"
            f"    HostKeyAlias {host_key_alias(alias)}\n"
        )
    blocks.append(
        f"# Every smconnect host, listed above or not.\n"
        f"Host {options.wildcard}\n"
        f"    User {options.user}\n"
        f"    Port 22\n"
        f"    ProxyCommand {options.proxy_command}\n"
        f"    UserKnownHostsFile {_percent_path_arg(paths.known_hosts, 'known_hosts')}\n"
        f"    GlobalKnownHostsFile none\n"
        f"    StrictHostKeyChecking yes\n"
        f"    UpdateHostKeys no\n"
        f"    CheckHostIP no\n"
        f"    ServerAliveInterval {options.server_alive_interval}\n"
        f"    ServerAliveCountMax {options.server_alive_count_max}\n"
        f"    ConnectTimeout {options.connect_timeout}\n"
    )
    return RenderedConfig(
        text=HEADER + "\n" + "\n".join(blocks),
        aliases=tuple(aliases),
        collisions=tuple(collisions),
    )


def _encode_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------------
# The user's ~/.ssh/config, handled as bytes (ssh does not care about its encoding, so neither
# do we: a Latin-1 comment must survive untouched).

MARKER = b"# Added by smconnect (keep this first; `smconnect ssh-config remove` takes it out):"
MARKER_CREATED = (
    b"# Added by smconnect, which created this file (`smconnect ssh-config remove` takes it out):"
)


def _split_lines(data: bytes) -> list[bytes]:
    """Lines as ssh reads them (split at LF only), each keeping its line ending."""
    if not data:
        return []
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _bare(line: bytes) -> bytes:
    return line.rstrip(b"\r\n")


def _keyword(line: bytes) -> bytes:
    stripped = line.strip()
    if not stripped or stripped.startswith(b"#"):
        return b""
    return re.split(rb"[\s=]", stripped, maxsplit=1)[0].lower()


@dataclass(frozen=True)
class _OurBlock:
    start: int  # line index of the marker
    include: bytes  # the Include line, without line ending
    created: bool
    first: bool  # no Host/Match line precedes it


def _find_blocks(lines: Sequence[bytes]) -> list[_OurBlock]:
    blocks: list[_OurBlock] = []
    scoped = False
    for i, line in enumerate(lines):
        bare = _bare(line)
        if (
            bare in (MARKER, MARKER_CREATED)
            and i + 1 < len(lines)
            and _keyword(lines[i + 1]) == b"include"
        ):
            blocks.append(_OurBlock(i, _bare(lines[i + 1]), bare == MARKER_CREATED, not scoped))
        if _keyword(line) in (b"host", b"match"):
            scoped = True
    return blocks


def _strip_blocks(lines: Sequence[bytes], blocks: Sequence[_OurBlock]) -> bytes:
    drop = {b.start for b in blocks} | {b.start + 1 for b in blocks}
    return b"".join(line for i, line in enumerate(lines) if i not in drop)


def include_line(paths: SshPaths) -> bytes:
    return _encode_text(f"Include {_include_arg(paths.our_config)}")


def _with_include(data: bytes | None, paths: SshPaths) -> bytes:
    """The user's config with our Include first; returns ``data`` itself if already so."""
    wanted = include_line(paths)
    lines = _split_lines(data or b"")
    blocks = _find_blocks(lines)
    if len(blocks) == 1 and blocks[0].first and blocks[0].include == wanted:
        return data or b""
    created = data is None or any(b.created for b in blocks)
    rest = _strip_blocks(lines, blocks)
    eol = b"\r\n" if lines and lines[0].endswith(b"\r\n") else b"\n"
    marker = MARKER_CREATED if created else MARKER
    return marker + eol + wanted + eol + rest


def _without_include(data: bytes) -> tuple[bytes, bool]:
    """The user's config without our lines, and whether the file should go (we created it)."""
    lines = _split_lines(data)
    blocks = _find_blocks(lines)
    rest = _strip_blocks(lines, blocks)
    return rest, (not rest and any(b.created for b in blocks))


# ---------------------------------------------------------------------------------------------
# Asking the real ssh client

# ssh says "<file>: line <n>: <message>" or "<file> line <n>: <message>", depending on the check.
_SSH_LINE_RE = re.compile(r"^(?P<file>.+?):? line (?P<line>\d+): (?P<message>.*)$")


def _syntax_error(stderr: str) -> UserConfigSyntaxError:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        m = _SSH_LINE_RE.match(ln)
        if m:
            return UserConfigSyntaxError(m.group("message"), m.group("file"), int(m.group("line")))
    return UserConfigSyntaxError(lines[0] if lines else "ssh exited with status 255")


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class InstallPlan:
    """What ``install`` would write, computed from snapshots that ``apply`` re-checks."""

    user_before: fsutil.Snapshot
    user_after: bytes | None  # None: unchanged
    ours_before: fsutil.Snapshot
    ours_after: bytes | None  # None: unchanged
    rendered: RenderedConfig

    @property
    def changes_anything(self) -> bool:
        return self.user_after is not None or self.ours_after is not None


@dataclass(frozen=True)
class InstallResult:
    user_config_changed: bool
    our_config_changed: bool
    backup: Path | None
    aliases: tuple[str, ...]
    collisions: tuple[SpaceRef, ...] = ()


@dataclass(frozen=True)
class RemoveResult:
    user_config_changed: bool
    user_config_deleted: bool
    removed_files: tuple[Path, ...]


@dataclass(frozen=True)
class ConfigStatus:
    paths: SshPaths
    include_present: bool
    include_first: bool
    our_config_present: bool
    content: str | None  # our file as on disk
    hosts: tuple[str, ...]  # explicit aliases in our file
    command_current: bool  # its ProxyCommand runs this smconnect
    up_to_date: bool | None  # equals what we would render now (None: no space list given)
    stale_hosts: tuple[str, ...] = ()  # in the file, no longer a space
    missing_hosts: tuple[str, ...] = ()  # a space without its Host entry
    problems: tuple[str, ...] = field(default=())

    @property
    def installed(self) -> bool:
        return self.include_present and self.our_config_present


# ---------------------------------------------------------------------------------------------
# The manager


class SshConfig:
    """Install, refresh, inspect and remove smconnect's ssh configuration."""

    def __init__(
        self,
        paths: SshPaths,
        options: ConfigOptions,
        *,
        ssh_binary: str = "ssh",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ssh_timeout: float = 20.0,
    ) -> None:
        self.paths = paths
        self.options = options
        self._ssh_binary = ssh_binary
        self._clock = clock
        self._ssh_timeout = ssh_timeout

    # -- public API --------------------------------------------------------------------------

    def install(self, spaces: Iterable[tuple[str, str]] = ()) -> InstallResult:
        """Write our file and put our Include first in the user's config; idempotent.

        Refuses, writing nothing, if ssh is missing, if ssh already rejects the user's config,
        or if the user's config cannot be read; rolls back if ssh does not accept the result.
        """
        ssh = self._ssh_path()
        with self._locked():
            plan = self.plan_install(spaces)
            if plan.changes_anything and plan.user_before.exists:
                self._effective(ssh, self._sample_host())  # pre-check: surfaces their errors
            return self._apply(plan)

    def plan_install(self, spaces: Iterable[tuple[str, str]] = ()) -> InstallPlan:
        """Compute an install without writing (for a dry run, or to ``apply`` later)."""
        rendered = render_config(spaces, self.options, self.paths)
        user = self._read_user()
        ours = self._read_ours()
        new_user = _with_include(user.data, self.paths)
        new_ours = _encode_text(rendered.text)
        return InstallPlan(
            user_before=user,
            user_after=None if new_user == user.data else new_user,
            ours_before=ours,
            ours_after=None if new_ours == ours.data else new_ours,
            rendered=rendered,
        )

    def apply(self, plan: InstallPlan) -> InstallResult:
        """Carry out a plan, refusing if either file changed since the plan read it."""
        self._ssh_path()
        with self._locked():
            return self._apply(plan)

    def write_hosts(self, spaces: Iterable[tuple[str, str]]) -> bool:
        """Refresh the host list in our file (the daemon, after listing spaces).

        Does nothing unless smconnect is installed, so it never resurrects a removed setup;
        returns whether the file changed.
        """
        with self._locked():
            if not _find_blocks(_split_lines(self._read_user().data or b"")):
                return False
            ours = self._read_ours()
            new = _encode_text(render_config(spaces, self.options, self.paths).text)
            if new == ours.data:
                return False
            self._write(self.paths.our_config, new, ours)
            return True

    def remove(self) -> RemoveResult:
        """Take out exactly our lines and delete our files, leaving the user's file as it was.

        No backup: only the two lines we identify exactly go, under the same change check as
        install; the backup install made still holds the file from before smconnect.
        """
        with self._locked():
            user = self._read_user()
            changed = deleted = False
            if user.data is not None:
                rest, delete = _without_include(user.data)
                if rest != user.data:
                    if delete:
                        self._check_unchanged(user)
                        fsutil.remove_file(fsutil.resolve_target(self.paths.user_config))
                        deleted = True
                    else:
                        self._write(self.paths.user_config, rest, user)
                    changed = True
            removed = tuple(
                p for p in (self.paths.our_config, self.paths.known_hosts) if fsutil.remove_file(p)
            )
            fsutil.remove_empty_dir(self.paths.smconnect_dir)
            return RemoveResult(changed, deleted, removed)

    def show(
        self, spaces: Iterable[tuple[str, str]] | None = None, *, validate: bool = False
    ) -> ConfigStatus:
        """Where things stand: our file's content, the Include, stale or missing hosts.

        With ``validate``, also asks ssh whether it applies our settings, reporting a failure
        as a problem instead of raising.
        """
        user = self._read_user()
        ours = self._read_ours()
        blocks = _find_blocks(_split_lines(user.data or b""))
        content = ours.data.decode("utf-8", "surrogateescape") if ours.data is not None else None
        hosts = _hosts_in(content or "", self.options.wildcard)
        command_current = (
            content is not None and f"    ProxyCommand {self.options.proxy_command}\n" in content
        )
        problems: list[str] = []
        include_first = bool(blocks) and blocks[0].first
        if not blocks:
            problems.append(
                f"{self.paths.user_config} does not include smconnect's hosts; "
                f"run `{INSTALL_COMMAND}`"
            )
        elif not include_first:
            problems.append(
                "smconnect's Include line is below a Host/Match line, where ssh ignores it for "
                f"other hosts; run `{INSTALL_COMMAND}` to move it first"
            )
        if content is None:
            problems.append(f"smconnect's ssh config file is missing; run `{INSTALL_COMMAND}`")
        elif not command_current:
            problems.append(
                f"the ProxyCommand points at another smconnect; run `{INSTALL_COMMAND}` to update it"
            )
        up_to_date: bool | None = None
        stale: tuple[str, ...] = ()
        missing: tuple[str, ...] = ()
        if spaces is not None:
            rendered = render_config(spaces, self.options, self.paths)
            up_to_date = content == rendered.text
            have = {h.lower() for h in hosts}
            want = {a.lower() for a in rendered.aliases}
            stale = tuple(h for h in hosts if h.lower() not in want)
            missing = tuple(a for a in rendered.aliases if a.lower() not in have)
            if not up_to_date and content is not None:
                problems.append(f"the host list is out of date; run `{INSTALL_COMMAND}`")
        if validate and not problems:
            try:
                self.check(hosts[:1])
            except SshConfigError as exc:
                problems.append(str(exc))
        return ConfigStatus(
            paths=self.paths,
            include_present=bool(blocks),
            include_first=include_first,
            our_config_present=ours.exists,
            content=content,
            hosts=hosts,
            command_current=command_current,
            up_to_date=up_to_date,
            stale_hosts=stale,
            missing_hosts=missing,
            problems=tuple(problems),
        )

    def check(self, aliases: Sequence[str] = ()) -> None:
        """Ask ssh (``ssh -G``) whether it applies our settings to these aliases and to a name
        only the wildcard matches; raise ``NotEffectiveError`` or ``UserConfigSyntaxError``."""
        ssh = self._ssh_path()
        for alias in (*aliases, self._sample_host()):
            explicit = alias != self._sample_host()
            got = self._effective(ssh, alias)
            want = {
                "user": self.options.user,
                "proxycommand": self.options.proxy_command,
                "userknownhostsfile": self.paths.known_hosts.as_posix(),
                "stricthostkeychecking": "true",
                "hostkeyalias": host_key_alias(alias) if explicit else None,
            }
            for key, value in want.items():
                if got.get(key) != value:
                    raise NotEffectiveError(
                        f"ssh does not use smconnect's {key} for {alias} (it has "
                        f"{got.get(key, 'nothing')!r}); something in {self.paths.user_config} "
                        f"overrides it: run `{INSTALL_COMMAND}`"
                    )

    # -- internals ---------------------------------------------------------------------------

    def _apply(self, plan: InstallPlan) -> InstallResult:
        backup = None
        if plan.user_after is not None:
            self._check_unchanged(plan.user_before)
        if plan.ours_after is not None:
            self._write(self.paths.our_config, plan.ours_after, plan.ours_before)
        try:
            if plan.user_after is not None:
                if plan.user_before.exists:
                    backup = self._backup(plan.user_before)
                self._write(self.paths.user_config, plan.user_after, plan.user_before)
            if plan.changes_anything:
                self.check(plan.rendered.aliases[:1])
        except SshConfigError:
            self._rollback(plan)
            raise
        return InstallResult(
            user_config_changed=plan.user_after is not None,
            our_config_changed=plan.ours_after is not None,
            backup=backup,
            aliases=plan.rendered.aliases,
            collisions=plan.rendered.collisions,
        )

    def _rollback(self, plan: InstallPlan) -> None:
        if plan.user_after is not None:
            now = self._read_user()
            if now.data == plan.user_after:
                if plan.user_before.data is None:
                    fsutil.remove_file(fsutil.resolve_target(self.paths.user_config))
                else:
                    self._write(self.paths.user_config, plan.user_before.data, now)
        if plan.ours_after is not None:
            if plan.ours_before.data is None:
                fsutil.remove_file(self.paths.our_config)
            else:
                fsutil.atomic_write(self.paths.our_config, plan.ours_before.data, expected=None)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.paths.ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with fsutil.directory_lock(self.paths.ssh_dir):
            yield

    def _read_user(self) -> fsutil.Snapshot:
        path = self.paths.user_config
        try:
            return fsutil.read_snapshot(path)
        except PermissionError as exc:
            raise UserConfigUnreadableError(
                f"cannot read {path} ({exc.strerror}); make it readable "
                f"(e.g. `chmod 600 {shlex.quote(str(path))}`) and try again"
            ) from None
        except OSError as exc:
            raise UserConfigUnreadableError(
                f"cannot read {path} ({exc.strerror or exc}); it must be a regular file"
            ) from None

    def _read_ours(self) -> fsutil.Snapshot:
        try:
            return fsutil.read_snapshot(self.paths.our_config)
        except OSError as exc:
            raise SshConfigError(
                f"cannot read {self.paths.our_config} ({exc.strerror or exc}); "
                f"delete it and run `{INSTALL_COMMAND}`"
            ) from None

    def _check_unchanged(self, before: fsutil.Snapshot) -> None:
        if self._read_user() != before:
            raise self._changed_error(before.path)

    def _changed_error(self, path: Path) -> ConcurrentModificationError:
        return ConcurrentModificationError(
            f"{path} changed while smconnect was updating it; nothing was written: "
            "save your edits, then run the command again"
        )

    def _write(self, path: Path, data: bytes, before: fsutil.Snapshot) -> None:
        # Our own file is always 0600 and ours: ssh refuses an Included file others can write.
        ours = path == self.paths.our_config
        try:
            fsutil.atomic_write(path, data, expected=before, keep_metadata=not ours)
        except fsutil.FileChangedError:
            raise self._changed_error(path) from None
        except OSError as exc:
            raise SshConfigError(
                f"cannot write {path} ({exc.strerror or exc}); check the permissions of "
                f"{path.parent} and try again"
            ) from None

    def _backup(self, before: fsutil.Snapshot) -> Path:
        """A copy of the user's config before we change it, unless the newest copy already
        holds exactly this content; never overwrites an existing backup."""
        try:
            return self._make_backup(before.data or b"")
        except OSError as exc:
            raise SshConfigError(
                f"cannot back up {self.paths.user_config} ({exc.strerror or exc}); nothing "
                f"was changed: check the permissions of {self.paths.user_config.parent}"
            ) from None

    def _make_backup(self, data: bytes) -> Path:
        directory = self.paths.user_config.parent
        stem = f"{self.paths.user_config.name}.smconnect-backup-"
        existing = sorted(directory.glob(f"{_glob_escape(stem)}*"), key=_backup_sort_key)
        if existing and existing[-1].read_bytes() == data:
            return existing[-1]
        stamp = self._clock().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        for n in range(1000):
            candidate = directory / (stem + stamp + (f"-{n}" if n else ""))
            if fsutil.create_exclusive(candidate, data, mode=0o600):
                return candidate
        raise SshConfigError(f"too many smconnect backups in {directory}; delete some old ones")

    def _ssh_path(self) -> str:
        found = shutil.which(self._ssh_binary)
        if found is None:
            raise SshNotFoundError(
                f"the OpenSSH client ({self._ssh_binary!r}) is not on PATH; install OpenSSH "
                "(e.g. `apt install openssh-client`) and try again"
            )
        return found

    def _sample_host(self) -> str:
        # Only the wildcard matches it: "_" followed by non-hex never comes out of alias_for.
        return f"{self.options.prefix}_smconnect-check"

    def _effective(self, ssh: str, host: str) -> dict[str, str]:
        """``ssh -G`` for ``host`` as the user's config resolves it (only the first value of a
        repeated key is kept, like ssh itself uses it)."""
        argv = [ssh, "-T", "-G", "-F", str(self.paths.user_config), host]
        if not self.paths.user_config.exists():
            argv[4] = "none"
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self._ssh_timeout,
                check=False,
            )
        except FileNotFoundError:
            raise SshNotFoundError(
                f"the OpenSSH client ({ssh}) could not be run; reinstall OpenSSH"
            ) from None
        except subprocess.TimeoutExpired:
            raise SshConfigError(
                f"`ssh -G {host}` did not answer within {self._ssh_timeout:.0f} s; check "
                "Match exec lines in your ssh config"
            ) from None
        if proc.returncode != 0:
            raise _syntax_error(proc.stderr.decode("utf-8", "replace"))
        out: dict[str, str] = {}
        for line_text in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
            key, _, value = line_text.partition(" ")
            out.setdefault(key, value)
        return out


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _backup_sort_key(path: Path) -> tuple[str, int]:
    stamp, _, n = path.name.rpartition("smconnect-backup-")[2].partition("-")
    return stamp, int(n) if n.isdigit() else 0


def _hosts_in(content: str, wildcard: str) -> tuple[str, ...]:
    hosts = []
    for line in content.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "Host" and parts[1] != wildcard:
            hosts.append(parts[1])
    return tuple(hosts)


def installed_prefix(paths: SshPaths) -> str | None:
    """The host prefix of the config smconnect last wrote (its ``Host <prefix>*`` block), so a
    custom ``--prefix`` survives every later refresh; None when nothing is installed."""
    try:
        content = paths.our_config.read_text("utf-8", "surrogateescape")
    except OSError:
        return None
    for line in content.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "Host" and parts[1].endswith("*"):
            prefix = parts[1][:-1]
            return prefix if _PREFIX_RE.match(prefix) else None
    return None
