"""The transactional manager of smconnect's ssh configuration: plan, apply, roll back.

smconnect writes its hosts to a file of its own (``~/.ssh/smconnect/config``, rendered by
``bridge.ssh.render``) and adds a marked ``Include`` of that file as the very first line of
``~/.ssh/config`` (``bridge.ssh.include``). ``SshConfig`` reads both files as snapshots,
computes the new content (``plan_install``), writes it only if neither file changed since
(``apply``, through ``bridge.fsutil``), asks ssh whether it applies our settings
(``bridge.ssh.probe``), and puts both files back if not. ``docs/design/ssh-config.md`` explains
every step.

The CLI (``smconnect ssh-config install|show|remove``) and the daemon (refreshing the host list
after listing spaces) both drive ``SshConfig``. Errors derive from
``bridge.ssh.errors.SshConfigError``; ``str()`` of one is a single line a user can act on.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bridge import fsutil
from bridge.ssh import probe
from bridge.ssh.aliases import SpaceRef
from bridge.ssh.errors import (
    INSTALL_COMMAND,
    ConcurrentModificationError,
    SshConfigError,
    UserConfigUnreadableError,
)
from bridge.ssh.hosts import DEFAULT_CHAIN, HostEntry, HostIdentity
from bridge.ssh.include import include_state, with_include, without_include
from bridge.ssh.known_hosts import KnownHosts
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import (
    ConfigOptions,
    RenderedConfig,
    encode_text,
    hosts_in,
    render_config,
    render_hosts,
    table_of,
)


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

    def diff(self) -> str:
        """The unified diff this plan would apply to both files (``install --dry-run``, like
        ``coder config-ssh --dry-run``); empty when it changes nothing."""
        return "".join(
            _unified_diff(before, after)
            for before, after in (
                (self.user_before, self.user_after),
                (self.ours_before, self.ours_after),
            )
            if after is not None
        )


@dataclass(frozen=True)
class InstallResult:
    user_config_changed: bool
    our_config_changed: bool
    backup: Path | None
    aliases: tuple[str, ...]
    collisions: tuple[SpaceRef, ...] = ()
    refused: tuple[SpaceRef, ...] = ()  # not documented SageMaker names: nothing written


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
    entries: tuple[HostEntry, ...] = ()  # every host with its space and identity

    @property
    def installed(self) -> bool:
        return self.include_present and self.our_config_present


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

    def install(
        self, spaces: Iterable[SpaceRef] = (), *, identity: HostIdentity = DEFAULT_CHAIN
    ) -> InstallResult:
        """Write our file, with ``identity``'s hosts for ``spaces`` (other identities' hosts
        kept), and put our Include first in the user's config; idempotent.

        Refuses, writing nothing, if ssh is missing, if ssh already rejects the user's config,
        or if the user's config cannot be read; rolls back if ssh does not accept the result.
        """
        ssh = probe.find_ssh(self._ssh_binary)
        with self._locked():
            plan = self.plan_install(spaces, identity=identity)
            if plan.changes_anything and plan.user_before.exists:
                # Pre-check: surfaces their errors before we write anything.
                probe.effective_config(
                    ssh,
                    self.paths.user_config,
                    probe.sample_host(self.options.prefix),
                    self._ssh_timeout,
                )
            return self._apply(plan)

    def plan_install(
        self, spaces: Iterable[SpaceRef] = (), *, identity: HostIdentity = DEFAULT_CHAIN
    ) -> InstallPlan:
        """Compute an install without writing (for a dry run, or to ``apply`` later)."""
        user = self._read_user()
        ours = self._read_ours()
        rendered = self._render(spaces, identity, ours)
        new_user = with_include(user.data, self.paths)
        new_ours = encode_text(rendered.text)
        return InstallPlan(
            user_before=user,
            user_after=None if new_user == user.data else new_user,
            ours_before=ours,
            ours_after=None if new_ours == ours.data else new_ours,
            rendered=rendered,
        )

    def apply(self, plan: InstallPlan) -> InstallResult:
        """Carry out a plan, refusing if either file changed since the plan read it."""
        probe.find_ssh(self._ssh_binary)
        with self._locked():
            return self._apply(plan)

    def write_hosts(
        self, spaces: Iterable[SpaceRef], *, identity: HostIdentity = DEFAULT_CHAIN
    ) -> bool:
        """Refresh ``identity``'s host list in our file (the daemon, after listing spaces).

        Does nothing unless smconnect is installed, so it never resurrects a removed setup;
        returns whether the file changed.
        """
        with self._locked():
            if not include_state(self._read_user().data).present:
                return False
            ours = self._read_ours()
            new = encode_text(self._render(spaces, identity, ours).text)
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
                rest, delete = without_include(user.data)
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

    def remove_profile(self, profile: str | None) -> tuple[HostEntry, ...]:
        """Take out only the hosts of ``profile`` (None: those installed without a profile),
        and their known_hosts entries; every other host and the Include stay. Returns the
        hosts removed."""
        with self._locked():
            ours = self._read_ours()
            table = self._table(ours)
            gone = tuple(e for e in table if e.identity.profile == profile)
            if gone:
                kept = [e for e in table if e.identity.profile != profile]
                new = encode_text(render_hosts(kept, self.options, self.paths))
                self._write(self.paths.our_config, new, ours)
                known = KnownHosts.for_paths(self.paths)
                for entry in gone:
                    known.remove_host(entry.alias)
            return gone

    def show(
        self,
        spaces: Iterable[SpaceRef] | None = None,
        *,
        validate: bool = False,
        identity: HostIdentity = DEFAULT_CHAIN,
    ) -> ConfigStatus:
        """Where things stand: our file's content, the Include, stale or missing hosts.

        With ``validate``, also asks ssh whether it applies our settings, reporting a failure
        as a problem instead of raising.
        """
        user = self._read_user()
        ours = self._read_ours()
        include = include_state(user.data)
        content = ours.data.decode("utf-8", "surrogateescape") if ours.data is not None else None
        hosts = hosts_in(content or "", self.options.wildcard)
        table = self._table(ours)
        command_current = (
            content is not None and f"    ProxyCommand {self.options.proxy_command}\n" in content
        )
        problems: list[str] = []
        include_first = include.first
        if not include.present:
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
            rendered = self._render(spaces, identity, ours)
            up_to_date = content == rendered.text
            have = {h.lower() for h in hosts}
            want = {a.lower() for a in rendered.aliases}
            mine = {e.alias.lower() for e in table if e.identity == identity}
            stale = tuple(h for h in hosts if h.lower() in mine and h.lower() not in want)
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
            include_present=include.present,
            include_first=include_first,
            our_config_present=ours.exists,
            content=content,
            hosts=hosts,
            command_current=command_current,
            up_to_date=up_to_date,
            stale_hosts=stale,
            missing_hosts=missing,
            problems=tuple(problems),
            entries=table,
        )

    def check(self, aliases: Sequence[str] = ()) -> None:
        """Ask ssh (``ssh -G``) whether it applies our settings to these aliases (each with its
        identity's ProxyCommand) and to a name only the wildcard matches; raise
        ``NotEffectiveError`` or ``UserConfigSyntaxError``."""
        identities = {e.alias: e.identity for e in self._table(self._read_ours())}
        expected = {
            a: self.options.proxy_command_for(identities.get(a, DEFAULT_CHAIN)) for a in aliases
        }
        probe.check_effective(
            probe.find_ssh(self._ssh_binary), self.paths, self.options, expected, self._ssh_timeout
        )

    def _table(self, ours: fsutil.Snapshot) -> tuple[HostEntry, ...]:
        """The host table of our file as read, under the prefix in force."""
        text = ours.data.decode("utf-8", "surrogateescape") if ours.data is not None else ""
        return table_of(text, self.options.prefix)

    def _render(
        self, spaces: Iterable[SpaceRef], identity: HostIdentity, ours: fsutil.Snapshot
    ) -> RenderedConfig:
        return render_config(
            spaces, self.options, self.paths, identity=identity, existing=self._table(ours)
        )

    # -- internals ---------------------------------------------------------------------------

    def _apply(self, plan: InstallPlan) -> InstallResult:
        """Write the plan; on any failure put back everything this call created or changed
        (our file, our directory, a new backup), so a refused install leaves no trace."""
        backup = None
        new_backup = False
        if plan.user_after is not None:
            self._check_unchanged(plan.user_before)
            self._check_link_target()
        dir_existed = self.paths.smconnect_dir.exists()
        try:
            if plan.ours_after is not None:
                self._write(self.paths.our_config, plan.ours_after, plan.ours_before)
            if plan.user_after is not None:
                if plan.user_before.exists:
                    backup, new_backup = self._backup(plan.user_before)
                self._write(self.paths.user_config, plan.user_after, plan.user_before)
            if plan.changes_anything:
                self.check(plan.rendered.aliases[:1])
        except SshConfigError:
            self._rollback(plan)
            if new_backup and backup is not None:
                fsutil.remove_file(backup)
            if not dir_existed:
                fsutil.remove_empty_dir(self.paths.smconnect_dir)
            raise
        return InstallResult(
            user_config_changed=plan.user_after is not None,
            our_config_changed=plan.ours_after is not None,
            backup=backup,
            aliases=plan.rendered.aliases,
            collisions=plan.rendered.collisions,
            refused=plan.rendered.refused,
        )

    def _check_link_target(self) -> None:
        """A symlinked user config is written through, but only into a directory that exists:
        a dangling link's missing tree is the user's to create, not ours (``remove`` could not
        know to take it away again)."""
        link = self.paths.user_config
        if not link.is_symlink():
            return
        target = fsutil.resolve_target(link)
        if not target.parent.is_dir():
            raise UserConfigUnreadableError(
                f"{link} is a symlink to {target}, whose directory {target.parent} does not "
                "exist; create it (or remove the link), then run the command again"
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

    def _backup(self, before: fsutil.Snapshot) -> tuple[Path, bool]:
        """A copy of the user's config before we change it, unless the newest copy already
        holds exactly this content; never overwrites an existing backup. Returns the copy and
        whether it is new (a failed install deletes a new one again)."""
        try:
            return self._make_backup(before.data or b"")
        except OSError as exc:
            raise SshConfigError(
                f"cannot back up {self.paths.user_config} ({exc.strerror or exc}); nothing "
                f"was changed: check the permissions of {self.paths.user_config.parent}"
            ) from None

    def _make_backup(self, data: bytes) -> tuple[Path, bool]:
        directory = self.paths.user_config.parent
        stem = f"{self.paths.user_config.name}.smconnect-backup-"
        existing = sorted(directory.glob(f"{_glob_escape(stem)}*"), key=_backup_sort_key)
        if existing and existing[-1].read_bytes() == data:
            return existing[-1], False
        stamp = self._clock().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        for n in range(1000):
            candidate = directory / (stem + stamp + (f"-{n}" if n else ""))
            if fsutil.create_exclusive(candidate, data, mode=0o600):
                return candidate, True
        raise SshConfigError(f"too many smconnect backups in {directory}; delete some old ones")


def _unified_diff(before: fsutil.Snapshot, after: bytes) -> str:
    def lines(data: bytes | None) -> list[str]:
        # A last line without a newline gets one, so the diff stays line-oriented.
        text = (data or b"").decode("utf-8", "surrogateescape")
        return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(True)]

    old = "/dev/null" if before.data is None else str(before.path)
    return "".join(difflib.unified_diff(lines(before.data), lines(after), old, str(before.path)))


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _backup_sort_key(path: Path) -> tuple[str, int]:
    stamp, _, n = path.name.rpartition("smconnect-backup-")[2].partition("-")
    return stamp, int(n) if n.isdigit() else 0
