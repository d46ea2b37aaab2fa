"""``dumps``/``loads`` for the ssh ProxyCommand's JSON-RPC, without importing ``json``.

ssh starts the proxy for every connection, and ``import json`` is ~15 ms of CPU there (it
imports ``re``, and ``re`` imports ``enum``): more than everything else the descriptor path
does. Both halves of ``json`` that matter are in its C accelerator ``_json``, which imports
nothing: its scanner parses a document (strings, numbers, nesting) exactly as ``json.loads``
does, and its string encoder writes what ``json.dumps`` writes. The encoder here covers what
the proxy sends (objects, arrays, strings, integers, booleans, null) with ``json.dumps``'s
default separators, so its output is byte for byte that of ``json.dumps``. Where ``_json`` is
missing (another Python implementation), ``json`` itself is used.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["dumps", "loads"]

_WHITESPACE = " \t\n\r"


class _ScannerContext:
    """The attributes ``_json.make_scanner`` reads: ``json.loads``' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # "NaN", "Infinity", "-Infinity", as json.loads reads them


try:
    from _json import encode_basestring_ascii as _quote
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - CPython always has it
    import json as _fallback

    _scan: Callable[[str, int], tuple[object, int]] | None = None
    _quote = _fallback.encoder.encode_basestring_ascii
else:
    _scan = _make_scanner(_ScannerContext())  # type: ignore[arg-type]  # the stub wants its own type


def loads(data: bytes | str) -> object:
    """``json.loads`` of one UTF-8 document; ValueError if it is not one."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if _scan is None:  # pragma: no cover
        return _fallback.loads(text)
    text = text.strip(_WHITESPACE)
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        raise ValueError("not a JSON document") from None
    if end != len(text):
        raise ValueError("extra data after the JSON document")
    return value


def dumps(value: object) -> str:
    """``json.dumps(value)`` for objects with string keys, arrays, strings, integers, booleans
    and null; TypeError for anything else (the proxy sends nothing else)."""
    return "".join(_encode(value, []))


def _encode(value: object, out: list[str]) -> list[str]:
    if isinstance(value, str):
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"keys must be str, not {type(key).__name__}")
            out.append(f"{', ' if index else ''}{_quote(key)}: ")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(", ")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not sent as JSON here")
    return out
