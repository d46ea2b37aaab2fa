"""ssh host names for spaces, and back: the naming scheme the daemon and the ssh config share.

``<prefix><space>`` or, for a space name found in several domains, ``<prefix><space>.<domain>``.
SageMaker names are letters, digits and hyphens, which pass through unchanged; any other
character becomes ``_xx`` per UTF-8 byte, so every alias is a plain ssh host name (no pattern
characters, no whitespace) and decodes back to exactly the name it came from. ssh matches
``Host`` patterns case-insensitively, so names are compared case-insensitively too.

Pure functions over ``SpaceRef`` values: the daemon names and resolves spaces with them without
touching any file.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from typing import NamedTuple, Protocol

from bridge.ssh.errors import AmbiguousAliasError, InvalidAliasError, UnknownSpaceError

DEFAULT_PREFIX = "sm-"


class _NamedSpace(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def domain_id(self) -> str: ...


class SpaceRef(NamedTuple):
    """A space as the alias scheme and the ssh config need it: its name and its domain id."""

    name: str
    domain_id: str

    @classmethod
    def of(cls, space: _NamedSpace) -> SpaceRef:
        """The reference to anything with a ``name`` and a ``domain_id`` (a Studio ``Space``)."""
        return cls(space.name, space.domain_id)


_PLAIN = frozenset(string.ascii_letters + string.digits + "-")
_PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_ESCAPE_RE = re.compile(r"_([0-9a-fA-F]{2})")


def is_valid_prefix(prefix: str) -> bool:
    """Whether ``prefix`` can start our host names (never empty, never a leading ``-``)."""
    return _PREFIX_RE.match(prefix) is not None


def check_prefix(prefix: str) -> None:
    """Raise ``InvalidAliasError`` for a prefix ``is_valid_prefix`` rejects."""
    if not is_valid_prefix(prefix):
        raise InvalidAliasError(
            f"host prefix {prefix!r} is not usable: it must start with a letter or digit and "
            "contain only letters, digits, '-', '_' and '.'"
        )


def encode_part(name: str) -> str:
    """``name`` as a host-name part: letters, digits and ``-`` as they are, any other character
    as ``_xx`` per UTF-8 byte (so it decodes back exactly)."""
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
    if not name or encode_part(name).lower() != part.lower():
        raise InvalidAliasError(f"{alias!r} is not a valid smconnect host name")
    return name


def alias_for(
    space: str,
    domain_id: str,
    all_spaces: Iterable[SpaceRef],
    *,
    prefix: str = DEFAULT_PREFIX,
) -> str:
    """The ssh host name for a space: qualified by domain only when its name is not unique."""
    check_prefix(prefix)
    if not space or not domain_id:
        raise InvalidAliasError("a space needs a non-empty name and domain id to get a host name")
    domains = {r.domain_id.lower() for r in all_spaces if r.name.lower() == space.lower()}
    domains.add(domain_id.lower())
    base = prefix + encode_part(space)
    return base if len(domains) == 1 else f"{base}.{encode_part(domain_id)}"


def parse_alias(alias: str, *, prefix: str = DEFAULT_PREFIX) -> tuple[str, str | None]:
    """Invert ``alias_for``: ``(space name, domain id or None)``."""
    check_prefix(prefix)
    if not alias.lower().startswith(prefix.lower()):
        raise InvalidAliasError(
            f"{alias!r} is not an smconnect host: smconnect hosts start with {prefix!r}"
        )
    rest = alias[len(prefix) :]
    name_part, dot, domain_part = rest.partition(".")
    space = _decode(name_part, alias)
    return space, (_decode(domain_part, alias) if dot else None)


def resolve_alias(
    alias: str, spaces: Iterable[SpaceRef], *, prefix: str = DEFAULT_PREFIX
) -> SpaceRef:
    """The space an alias (as typed, any case) names among ``spaces``."""
    name, domain = parse_alias(alias, prefix=prefix)
    matches = sorted(
        {
            SpaceRef(r.name, r.domain_id)
            for r in spaces
            if r.name.lower() == name.lower()
            and (domain is None or r.domain_id.lower() == domain.lower())
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
            [f"{prefix}{encode_part(m.name)}.{encode_part(m.domain_id)}" for m in matches],
            [f"{m.domain_id}/{m.name}" for m in matches],
        )
    return matches[0]


def host_key_alias(alias: str) -> str:
    """The name ssh looks up in known_hosts for ``alias``: ssh lower-cases host names first."""
    return alias.lower()
