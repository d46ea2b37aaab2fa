"""Faults a test switches on: websocket drops, lost/duplicated/reordered frames, delay.

The plan is a plain mutable dataclass shared by the broker and every session, so a test flips
a field mid-transfer and the next frame sees it. Randomness is seeded per session so that a
failing run replays the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bridge.ssm.codec import MessageType, PayloadType

__all__ = ["FaultPlan", "FrameFaults"]

# Frames the service generates itself; losing them would test nothing but a hang.
_EXEMPT = (
    MessageType.CHANNEL_CLOSED.encode(),
    MessageType.START_PUBLICATION.encode(),
    MessageType.PAUSE_PUBLICATION.encode(),
)
_OUTPUT = MessageType.OUTPUT_STREAM_DATA.encode()
_HANDSHAKE_COMPLETE = int(PayloadType.HANDSHAKE_COMPLETE).to_bytes(4, "big")


@dataclass
class FaultPlan:
    """Switches for the broker's sessions; all off by default."""

    drop_rate: float = 0.0  # fraction of binary frames lost, each direction
    duplicate_rate: float = 0.0  # fraction delivered twice
    reorder_rate: float = 0.0  # fraction held back and delivered after the next frame
    seed: int = 0
    delay: float = 0.0  # seconds added to every binary frame, each direction
    drop_every_bytes: int | None = None  # abort the websocket every N app bytes (both ways)
    drop_every_bytes_sent: int | None = None  # ... counting agent-to-client bytes only
    drop_every_bytes_received: int | None = None  # ... counting client-to-agent bytes only
    max_drops: int | None = None  # stop dropping after this many aborts
    refuse_resume: bool = False  # resume_session() raises ResumeRefused
    withhold_handshake_complete: bool = False  # the agent's PT7 never reaches the client

    def mangles_frames(self) -> bool:
        return bool(
            self.drop_rate
            or self.duplicate_rate
            or self.reorder_rate
            or self.withhold_handshake_complete
        )


def message_type_of(frame: bytes) -> bytes:
    return frame[4:36].rstrip(b" \x00")


class FrameFaults:
    """Applies a plan's per-frame faults to one session's traffic, one direction each."""

    def __init__(self, plan: FaultPlan, salt: str) -> None:
        self._plan = plan
        self._rng = random.Random(f"{plan.seed}:{salt}")
        self._held: dict[str, bytes] = {}
        self.dropped = 0
        self.duplicated = 0
        self.reordered = 0

    def apply(self, frames: list[bytes], direction: str) -> list[bytes]:
        """The frames to deliver instead of ``frames``; a reordered one may stay held back."""
        plan = self._plan
        out: list[bytes] = []
        for frame in frames:
            kind = message_type_of(frame)
            if kind in _EXEMPT:
                out.append(frame)
                continue
            if (
                plan.withhold_handshake_complete
                and kind == _OUTPUT
                and frame[112:116] == _HANDSHAKE_COMPLETE
            ):
                self.dropped += 1
                continue
            roll = self._rng.random()
            if roll < plan.drop_rate:
                self.dropped += 1
                continue
            held = self._held.pop(direction, None)
            if held is None and roll < plan.drop_rate + plan.reorder_rate:
                self._held[direction] = frame
                self.reordered += 1
                continue
            out.append(frame)
            if roll >= 1.0 - plan.duplicate_rate:
                out.append(frame)
                self.duplicated += 1
            if held is not None:
                out.append(held)
        return out

    def release(self, direction: str) -> list[bytes]:
        """A frame still held back when no later frame came along to overtake it."""
        held = self._held.pop(direction, None)
        return [] if held is None else [held]
