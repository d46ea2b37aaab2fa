"""The data channel's TLS client context: made once per process, and never on the event loop.

``ssl.create_default_context()`` reads the system's CA bundle: 19-49 ms of CPU on the 2-core
test machine, during which an event loop does nothing else. Every ``wss`` dial used to make
one: the pre-dial (``predial.py``) on the daemon's loop, beside StartSession on a cold
connection, where it ran before StartSession's worker thread had even started, and asyncio
for a plain dial or a reconnect. The emulator's ``ws://`` broker never showed it (with its
``tls`` setting it serves ``wss://``: ``tests/e2e/test_tls.py``). One context
now serves every connection (an ``SSLContext`` is meant to be shared; botocore's HTTPS pool
keeps one too), built in a worker thread the first time it is needed. The CA bundle is
therefore read once per daemon: a changed bundle counts from the next daemon on.
"""

from __future__ import annotations

import asyncio
import ssl
import threading

__all__ = ["client_context", "shared_context"]


class _Shared:
    lock = threading.Lock()
    context: ssl.SSLContext | None = None


def client_context() -> ssl.SSLContext:
    """The shared context, made on the first call (blocking: call it off the loop)."""
    with _Shared.lock:
        if _Shared.context is None:
            _Shared.context = ssl.create_default_context()
        return _Shared.context


async def shared_context() -> ssl.SSLContext:
    """``client_context`` for a coroutine: at once when made, else made in a worker thread."""
    context = _Shared.context
    if context is not None:
        return context
    return await asyncio.to_thread(client_context)
