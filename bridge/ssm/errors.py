"""Errors a data channel raises to its users; the transport and the CLI catch ``ChannelError``.

The sans-I/O core never raises these for peer input (it emits events instead); the transport
turns terminal events into these exceptions so callers see one hierarchy.
"""

from __future__ import annotations

__all__ = [
    "ChannelClosedError",
    "ChannelError",
    "HandshakeError",
    "HandshakeTimeout",
    "KMSUnsupported",
    "ResumeFailed",
    "TruncatedError",
]


class ChannelError(Exception):
    """Base of every data-channel failure."""


class HandshakeError(ChannelError):
    """The session handshake failed (a refused action, a malformed exchange)."""


class HandshakeTimeout(ChannelError):
    """The handshake did not finish within the configured time."""


class KMSUnsupported(ChannelError):
    """The agent asked for KMS encryption, which smconnect does not implement."""


class ResumeFailed(ChannelError):
    """The websocket dropped and could not be resumed (ResumeSession refused or gave up)."""


class ChannelClosedError(ChannelError):
    """The channel is closed (``channel_closed`` from the service, or closed locally)."""


class TruncatedError(ChannelError):
    """The service closed the channel while data it had sent was known to be missing (a gap
    in the sequence): the stream ended short, so the reader gets this instead of EOF.

    Not a ``ChannelClosedError``: code that takes that for a normal end must not take this."""
