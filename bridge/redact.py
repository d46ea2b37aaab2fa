"""``redact(text)``: scrub credentials out of anything headed for a log or an error message.

Used by the daemon's log formatter, the proxy relay and error paths. It errs on the side of
over-redaction: a harmless value after ``token=`` lost from a log costs nothing, a leaked
SessionToken or StreamUrl query (which embeds a session credential) costs a lot.
Stdlib ``re`` only, so the relay can import it cheaply.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "redact"]

REDACTED = "<redacted>"

# Query strings of stream and presigned URLs carry tokens/signatures: keep scheme, host, path.
# Idempotent: a query already redacted is left alone (a message redacted twice, once where it
# was made and once by the log formatter, must not read ``?<redacted><redacted>``).
_URL_QUERY = re.compile(
    rf"(?i)\b((?:wss?|https?)://[^\s?#\"'<>`]*)\?(?!{re.escape(REDACTED)})[^\s\"'<>`]+"
)

# AWS access key ids (long-term AKIA, temporary ASIA, and the other documented prefixes).
_ACCESS_KEY_ID = re.compile(
    r"(?<![A-Z0-9])(AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{12,}"
)

# ``Bearer <token>`` (Authorization headers, our own TCP fallback token).
_BEARER = re.compile(r"(?i)\b((?:bearer\s+)+)[^\s\"'`,;]+")

# ``<name><sep><value>`` where the name looks like a credential: SecretAccessKey,
# aws_secret_access_key, TokenValue, SessionToken, X-Amz-Security-Token, token, password, …
# The separator covers k=v, k: v, JSON ("k": "v"), Python reprs ('k': 'v') and escaped JSON.
_SECRET_NAME = (
    r"[\w.-]*(?:secret|token|passw(?:or)?d|signature|credential|api[_-]?key|private[_-]?key)[\w.-]*"  # noqa: S105
)
_SEP = r"(?:\\?[\"'])?\s*[:=]\s*(?:b?\\?[\"'])?"
_KEY_VALUE = re.compile(
    rf"(?i)\b({_SECRET_NAME}{_SEP})(?!{re.escape(REDACTED)})(?:bearer\s+)?[^\s\"'`&,;}}\]\)\\]+"
)


def redact(text: str) -> str:
    if not text:
        return text
    # Order matters: key=value before Bearer, so "Bearer" never swallows a key's name (and a
    # "token: Bearer x" value is taken whole); URLs first, since their queries hold both kinds.
    text = _URL_QUERY.sub(rf"\1?{REDACTED}", text)
    text = _KEY_VALUE.sub(rf"\1{REDACTED}", text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    return _ACCESS_KEY_ID.sub(rf"\1{REDACTED}", text)
