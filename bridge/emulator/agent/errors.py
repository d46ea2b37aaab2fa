"""Errors the emulator's session broker raises to the control plane and to tests."""

from __future__ import annotations

__all__ = ["AgentError", "BrokerNotRunning", "ResumeRefused", "SessionNotFound"]


class AgentError(Exception):
    """Base of every broker failure."""


class SessionNotFound(AgentError):
    """No live session has this id (never created, or already ended)."""


class ResumeRefused(AgentError):
    """ResumeSession was refused (a test switched ``FaultPlan.refuse_resume`` on)."""


class BrokerNotRunning(AgentError):
    """A session was requested before ``start()`` or after ``stop()``."""
