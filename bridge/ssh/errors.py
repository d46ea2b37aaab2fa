"""Errors of the ssh-config subsystem: ``str()`` of each is one line a user can act on.

Kept apart so that the alias scheme (which the daemon uses to name spaces), the renderer, the
include editor, the ``ssh -G`` probe and the manager can all raise them without importing one
another; the CLI and the daemon catch ``SshConfigError`` alone.
"""

from __future__ import annotations

from collections.abc import Sequence

INSTALL_COMMAND = "smconnect ssh-config install"
REMOVE_COMMAND = "smconnect ssh-config remove"


class SshConfigError(Exception):
    """Base of this subsystem's errors: ``str()`` is one line naming the problem and the fix."""


class InvalidAliasError(SshConfigError):
    """A host name is not one of ours, or a prefix/space name cannot be turned into one."""


class UnknownSpaceError(SshConfigError):
    """An alias names no known space."""


class AmbiguousAliasError(SshConfigError):
    """An unqualified alias matches several spaces: in several domains, or (ssh host names
    ignore case) spaces of one domain whose names differ only in case."""

    def __init__(
        self, alias: str, candidates: Sequence[str], refs: Sequence[str] | None = None
    ) -> None:
        # Qualified aliases that are equal but for case cannot tell the spaces apart either;
        # then only the `domain-id/name` references (for smconnect's own commands) can.
        distinct = len({c.lower() for c in candidates}) == len(candidates)
        if distinct or not refs:
            hint = f"use one of: {', '.join(candidates)}"
        else:
            hint = (
                "their ssh host names differ only in case, which ssh ignores; "
                f"name one with smconnect as domain-id/name: {', '.join(refs)}"
            )
        super().__init__(f"{alias} matches {len(candidates)} spaces; {hint}")
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
