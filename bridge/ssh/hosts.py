"""The host table of our ssh config: which alias reaches which space as which AWS identity.

One file serves several accounts (issue 13): every explicit ``Host`` carries the identity it was
installed for (profile, region, endpoint, as the user gave them), so installing for one profile
adds or updates that profile's hosts and keeps everybody else's. Names are ``<prefix><space>``
(``bridge.ssh.aliases``) unless another identity already holds that name; the later identity
then gets ``<name>.<qualifier>`` (the profile, ``default`` without one). Names are derived from
what the file already holds, so an alias is never handed to another identity.

Each host's identity is recorded in a one-line JSON comment above its ``Host`` line, which is
how the table is read back (``entries_in``); pure functions, no file access.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple, Protocol

from bridge.ssh.aliases import SpaceRef, alias_for, encode_part
from bridge.ssh.errors import SshConfigError

__all__ = [
    "DEFAULT_CHAIN",
    "MARKER",
    "HostEntry",
    "HostIdentity",
    "assign_hosts",
    "entries_in",
    "entry_comment",
]

MARKER = "# smconnect-host "
# Values we write into an executable config: no quote, backslash or control character (the
# ProxyCommand is a shell line and a newline would add directives); spaces are quoted.
_SAFE_VALUE = re.compile(r"[^\"'\\\x00-\x1f\x7f]+")
NO_PROFILE = "default"


class _Context(Protocol):
    @property
    def profile(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...

    @property
    def endpoint_url(self) -> str | None: ...


class HostIdentity(NamedTuple):
    """The AWS identity a host connects as: what its ProxyCommand passes (None: the default
    chain of the shell ssh runs in, i.e. environment credentials or the default profile)."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def of(cls, context: _Context) -> HostIdentity:
        """The identity of a request's AWS context (``bridge.aws.context.AwsContext``)."""
        return cls(context.profile, context.region, context.endpoint_url)

    def check(self) -> None:
        """Refuse values an ssh config cannot carry safely (one line, what to do)."""
        for what, value in zip(("profile", "region", "endpoint URL"), self, strict=True):
            if value is not None and not _SAFE_VALUE.fullmatch(value):
                raise SshConfigError(
                    f"the {what} {value!r} contains a quote, a backslash or a control "
                    "character, which cannot go into an ssh config; use another name"
                )

    def args(self) -> tuple[str, ...]:
        """The context options ``smconnect … proxy`` takes for this identity."""
        argv: list[str] = []
        for flag, value in zip(("--profile", "--region", "--endpoint-url"), self, strict=True):
            if value:
                argv += [flag, value]
        return tuple(argv)

    def label(self) -> str:
        """For people: ``profile a, region eu-west-1`` (``default chain`` without either)."""
        parts = [f"profile {self.profile}" if self.profile else "default chain"]
        if self.region:
            parts.append(f"region {self.region}")
        if self.endpoint_url:
            parts.append(f"endpoint {self.endpoint_url}")
        return ", ".join(parts)

    def qualifiers(self) -> Iterator[str]:
        """Suffixes to try, in order, when another identity holds a space's plain name."""
        base = encode_part(self.profile or NO_PROFILE)
        yield base
        if self.region:
            yield f"{base}-{encode_part(self.region)}"
        n = 2
        while True:
            yield f"{base}-{n}"
            n += 1


DEFAULT_CHAIN = HostIdentity()  # no profile, region or endpoint: the shell's default chain


class HostEntry(NamedTuple):
    """One explicit ``Host`` of our file."""

    alias: str
    space: SpaceRef
    identity: HostIdentity


def entry_comment(entry: HostEntry) -> str:
    """The comment line that records an entry's space and identity (read by ``entries_in``)."""
    record = {
        "host": entry.alias,
        "space": entry.space.name,
        "domain": entry.space.domain_id,
        "profile": entry.identity.profile,
        "region": entry.identity.region,
        "endpoint_url": entry.identity.endpoint_url,
    }
    return MARKER + json.dumps(record, ensure_ascii=True, separators=(", ", ": "))


def entries_in(content: str) -> tuple[HostEntry, ...]:
    """The host table of a file ``render_config`` wrote; lines it cannot read are skipped (a
    file from an older smconnect has none: its hosts are rewritten by the next install)."""
    entries = []
    for line in content.splitlines():
        if not line.startswith(MARKER):
            continue
        try:
            record = json.loads(line[len(MARKER) :])
            identity = HostIdentity(
                *(_optional(record.get(k)) for k in ("profile", "region", "endpoint_url"))
            )
            entry = HostEntry(
                str(record["host"]),
                SpaceRef(str(record["space"]), str(record["domain"])),
                identity,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        entries.append(entry)
    return tuple(entries)


def _optional(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def assign_hosts(
    existing: Iterable[HostEntry],
    identity: HostIdentity,
    spaces: Sequence[SpaceRef],
    *,
    prefix: str,
) -> tuple[list[HostEntry], list[SpaceRef]]:
    """The table after installing ``spaces`` for ``identity``: every other identity's entries
    unchanged, then this identity's, each keeping the alias it already had. Returns the entries
    and the spaces left without one (a name differing from another's only in case, as before).
    """
    others = [e for e in existing if e.identity != identity]
    mine = {e.space: e.alias for e in existing if e.identity == identity}
    taken = {e.alias.lower() for e in others}
    entries = list(others)
    collisions: list[SpaceRef] = []
    own: set[str] = set()
    for ref in sorted(spaces, key=lambda r: (r.name.lower(), r)):
        base = alias_for(ref.name, ref.domain_id, spaces, prefix=prefix)
        if base.lower() in own:  # differs from one of this identity's names only in case
            collisions.append(ref)
            continue
        own.add(base.lower())
        kept = mine.get(ref)
        if kept is not None and _derives_from(kept, base) and kept.lower() not in taken:
            alias = kept
        elif base.lower() not in taken:
            alias = base
        else:
            alias = next(
                f"{base}.{q}" for q in identity.qualifiers() if f"{base}.{q}".lower() not in taken
            )
        taken.add(alias.lower())
        entries.append(HostEntry(alias, ref, identity))
    return entries, collisions


def _derives_from(alias: str, base: str) -> bool:
    """Whether ``alias`` is ``base`` or a qualified form of it (a name the scheme still gives)."""
    return alias.lower() == base.lower() or alias.lower().startswith(base.lower() + ".")
