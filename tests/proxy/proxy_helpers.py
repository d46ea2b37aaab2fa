"""What the ProxyCommand may import, and reading ``-X importtime`` output (tests/proxy)."""

from __future__ import annotations

# Ours; ``os`` and what it loads (``python -c pass`` does not import it, the entry script
# does); and the C modules the descriptor path uses instead of socket, json, hashlib, base64.
FDPASS_MODULES = {
    "bridge", "bridge.__main__", "bridge.aws", "bridge.aws.caller", "bridge.fastjson",
    "bridge.fastws", "bridge.paths", "bridge.proxy", "bridge.proxy_fdpass",
    "bridge.proxy_messages", "__future__",
    "os", "stat", "_stat", "posixpath", "genericpath", "_collections_abc",
    "_socket", "_json", "_sha1", "binascii",
}  # fmt: skip
# What it used to load, each several ms of CPU on every connection (docs/design/proxy.md).
NOT_ON_THE_FAST_PATH = {
    "socket", "selectors", "enum", "json", "re", "pathlib", "urllib.parse", "ipaddress",
    "hashlib", "_hashlib", "base64", "struct", "contextlib", "collections", "functools",
    "threading", "typing", "tempfile", "array", "bridge.redact", "site", "asyncio",
    "bridge.proxy_relay",  # the relay fallback, threads and all
}  # fmt: skip


def imported(stderr: str) -> set[str]:
    timed = [line.split("|") for line in stderr.splitlines() if line.startswith("import time:")]
    return {fields[2].strip() for fields in timed if fields[1].strip().isdigit()}
