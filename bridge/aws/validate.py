"""Everything AWS answers is untrusted until it passes here.

botocore parses responses but does not enforce the patterns the service model documents, and a
hostile or broken endpoint (a proxy, a compromised account, a bug) can answer anything. The
strings we keep from a response end up in the ssh config, known_hosts, file names, command lines,
terminal output, logs and the VS Code UI, so each is checked against the service's documented
pattern (``botocore``'s ``sagemaker`` and ``ssm`` models; see docs/security.md) before it
is used. A value that fails gets an ``InvalidResponse`` naming the field, with the value shown
escaped, and nothing is written.

``printable`` is the one way to show an untrusted string to a person: control characters and
escape sequences are shown escaped, never interpreted by the terminal.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

from bridge.aws.errors import AwsError

__all__ = [
    "InvalidResponse",
    "app_status",
    "app_type",
    "domain_id",
    "feature_status",
    "idle_minutes",
    "instance_type",
    "plain",
    "printable",
    "resource_name",
    "session_id",
    "space_arn",
    "space_status",
    "stream_url",
    "token_value",
]

# Patterns and bounds from the service models (botocore data: sagemaker, ssm).
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")  # SpaceName, DomainName, UserProfileName
_DOMAIN_ID = re.compile(r"d-(-*[a-z0-9]){1,61}")
_SPACE_ARN = re.compile(r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:space/[\x21-\x7e]*")
# The models give SessionId only a length (1..256 for SageMaker's, 1..96 for SSM's); real ids are
# `<principal>-<hex>`. We accept the characters an IAM principal name may hold, nothing else.
_SESSION_ID = re.compile(r"[A-Za-z0-9_.@+=,:/-]{1,256}")
_TOKEN = re.compile(r"[\x21-\x7e]{1,1024}")  # TokenValue: printable ASCII, no spaces
_INSTANCE_TYPE = re.compile(r"(ml|system)(\.[a-z0-9-]+)*")
_APP_TYPES = frozenset(
    {
        "JupyterServer",
        "KernelGateway",
        "DetailedProfiler",
        "TensorBoard",
        "CodeEditor",
        "JupyterLab",
        "RStudioServerPro",
        "RSessionGateway",
        "Canvas",
    }
)
_APP_STATUSES = frozenset({"Deleted", "Deleting", "Failed", "InService", "Pending"})
_SPACE_STATUSES = frozenset(
    {"Deleting", "Failed", "InService", "Pending", "Updating", "Update_Failed", "Delete_Failed"}
)
_FEATURE_STATUSES = frozenset({"ENABLED", "DISABLED"})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_SHOWN = 80  # characters of a bad value shown in an error


class InvalidResponse(AwsError):
    """AWS answered a value that breaks the service's documented shape; nothing was used."""

    kind = "invalid_response"

    def __init__(self, operation: str, field: str, value: object, rule: str) -> None:
        super().__init__(
            f"AWS answered {operation} with an invalid {field} {printable(value)} ({rule}); "
            "it was not used"
        )
        self.operation = operation
        self.field = field


def printable(value: object, limit: int = _SHOWN) -> str:
    """A quoted, single-line, escape-free rendering of an untrusted value for messages."""
    text = value if isinstance(value, str) else repr(value)
    shown = text[:limit]
    escaped = shown.encode("unicode_escape").decode("ascii").replace("'", "\\'")
    more = f"… ({len(text)} characters)" if len(text) > limit else ""
    return f"'{escaped}'{more}"


def plain(text: str, limit: int = 500) -> str:
    """Free text from AWS (an error message, a FailureReason) made safe for one terminal line:
    readable characters stay as they are, control characters and escapes are shown escaped."""
    shown = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text[:limit]
    )
    return shown + ("…" if len(text) > limit else "")


def _string(operation: str, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidResponse(operation, field, value, "not a string")
    return value


def _matching(
    operation: str, field: str, value: object, pattern: re.Pattern[str], rule: str
) -> str:
    text = _string(operation, field, value)
    if pattern.fullmatch(text) is None:
        raise InvalidResponse(operation, field, text, rule)
    return text


def _one_of(operation: str, field: str, value: object, allowed: Iterable[str]) -> str:
    text = _string(operation, field, value)
    if text not in allowed:
        raise InvalidResponse(operation, field, text, "not a value the service documents")
    return text


def resource_name(operation: str, field: str, value: object) -> str:
    """SpaceName, DomainName, UserProfileName, AppName: ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``."""
    return _matching(operation, field, value, _NAME, "letters, digits and dashes, at most 63")


def domain_id(operation: str, value: object) -> str:
    return _matching(operation, "DomainId", value, _DOMAIN_ID, "expected d- and 1-61 of [a-z0-9-]")


def space_arn(operation: str, value: object) -> str:
    text = _matching(operation, "SpaceArn", value, _SPACE_ARN, "not a SageMaker space ARN")
    if len(text) > 256:
        raise InvalidResponse(operation, "SpaceArn", text, "longer than 256 characters")
    return text


def app_type(operation: str, value: object) -> str:
    return _one_of(operation, "AppType", value, _APP_TYPES)


def app_status(operation: str, value: object) -> str:
    return _one_of(operation, "Status", value, _APP_STATUSES)


def space_status(operation: str, value: object) -> str:
    return _one_of(operation, "Status", value, _SPACE_STATUSES)


def feature_status(operation: str, field: str, value: object) -> str:
    return _one_of(operation, field, value, _FEATURE_STATUSES)


def instance_type(operation: str, value: object) -> str:
    text = _matching(operation, "InstanceType", value, _INSTANCE_TYPE, "not an instance type")
    if len(text) > 64:
        raise InvalidResponse(operation, "InstanceType", text, "longer than 64 characters")
    return text


def idle_minutes(operation: str, value: object) -> int | None:
    """IdleSettings.IdleTimeoutInMinutes (the model's 60-525600); None: idle shutdown off."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 60 <= value <= 525600:
        raise InvalidResponse(operation, "IdleTimeoutInMinutes", value, "not 60-525600 minutes")
    return value


def session_id(operation: str, value: object) -> str:
    return _matching(operation, "SessionId", value, _SESSION_ID, "not a session id")


def token_value(operation: str, value: object) -> str:
    """Never shown: a bad token is reported without its value."""
    if not isinstance(value, str) or _TOKEN.fullmatch(value) is None:
        raise InvalidResponse(operation, "TokenValue", "<withheld>", "not a printable token")
    return value


def stream_url(operation: str, value: object) -> str:
    """A ``wss://`` URL (``ws://`` only to this machine, where the emulator serves it)."""
    text = _string(operation, "StreamUrl", value)
    if len(text) > 4096 or any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        raise InvalidResponse(operation, "StreamUrl", "<withheld>", "not a URL")
    parts = urllib.parse.urlsplit(text)
    host = parts.hostname or ""
    if parts.scheme == "wss" and host:
        return text
    if parts.scheme == "ws" and host in _LOOPBACK:
        return text
    raise InvalidResponse(
        operation,
        "StreamUrl",
        f"{parts.scheme}://{host}",
        "not a wss:// URL (ws:// only to loopback)",
    )
