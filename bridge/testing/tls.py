"""A throwaway TLS certificate for websocket tests and benches (the service's StreamUrl is
wss://): a server context for localhost and a client context that trusts it. The certificate
is the emulator's own kind (``bridge.emulator.tls``: a fresh CA and a server certificate it
signs), so tests and the emulator's ``--tls`` exercise one chain."""

from __future__ import annotations

import ssl
from pathlib import Path

from bridge.emulator.tls import make_tls

__all__ = ["tls_contexts"]


def tls_contexts(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh certificate for localhost (and 127.0.0.1, ::1), and a
    client context that trusts its CA (the service's StreamUrl is wss://)."""
    made = make_tls(directory)
    return made.server, ssl.create_default_context(cafile=str(made.ca_file))
