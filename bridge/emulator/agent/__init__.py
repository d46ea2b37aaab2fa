"""The service+agent half of the SSM data channel, for the emulator and the tests.

``SessionBroker`` is a websockets server that plays the ``ssmmessages`` service and the SSM
agent together: it issues sessions and tokens, checks the first frame, runs the agent-role
protocol core, and behind it the agent's plugins (port forwarding in sshd, basic and smux
modes; a shell on a pty). ``FaultPlan`` holds the switches a test turns on.
"""

from bridge.emulator.agent.broker import Pacing, SessionBroker, SessionGrant, SessionTarget
from bridge.emulator.agent.errors import (
    AgentError,
    BrokerNotRunning,
    ResumeRefused,
    SessionNotFound,
)
from bridge.emulator.agent.faults import FaultPlan
from bridge.emulator.agent.port import Address, Resolve
from bridge.emulator.agent.session import AgentSession, FlushLimits, SessionStats

__all__ = [
    "Address",
    "AgentError",
    "AgentSession",
    "BrokerNotRunning",
    "FaultPlan",
    "FlushLimits",
    "Pacing",
    "Resolve",
    "ResumeRefused",
    "SessionBroker",
    "SessionGrant",
    "SessionNotFound",
    "SessionStats",
    "SessionTarget",
]
