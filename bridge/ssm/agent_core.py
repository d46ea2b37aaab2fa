"""The agent side of the data channel (the emulator's agent): it runs the handshake.

It sends ``output_stream_data`` (sequence 0 carries SYN), learns the client from the
OpenDataChannelInput, sends the HandshakeRequest (PT5) for Port/NonInteractiveCommands, waits
for the HandshakeResponse (PT6), answers with HandshakeComplete (PT7), and closes the channel
with ``channel_closed``. Any ack or data from the client resumes a paused publication.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from bridge.ssm import _handshake as hs
from bridge.ssm import messages
from bridge.ssm.codec import ClientMessage, MessageFlags, MessageType, PayloadType, encode
from bridge.ssm.core import AGENT_VERSION, HandshakeResponded, State
from bridge.ssm.messages import OpenDataChannelInput
from bridge.ssm.sequenced import SequencedCore


class AgentChannelCore(SequencedCore):
    """The agent's data channel state: session start, handshake, close."""

    _OUT_TYPE = MessageType.OUTPUT_STREAM_DATA.value
    _IN_TYPE = MessageType.INPUT_STREAM_DATA.value
    _FIRST_FLAGS = MessageFlags.SYN

    _VERSION = AGENT_VERSION

    def _default_client_id(self, new_id: Callable[[], uuid.UUID]) -> str:
        return ""  # learnt from the OpenDataChannelInput

    def _started(self, now: float) -> None:
        pass  # nothing beyond the shared state

    def accept_open(self, text: str) -> OpenDataChannelInput:
        """Parse a connection's first text frame and remember who the client is.

        Raises codec.FrameError when it is malformed; checking the token is the caller's job.
        """
        opened = OpenDataChannelInput.from_json(text)
        self._client_id = opened.client_id
        if opened.client_version:
            self._peer_version = opened.client_version
        return opened

    def start_session(
        self,
        now: float,
        session_type: str,
        properties: Mapping[str, str] | None = None,
        *,
        kms_key_id: str | None = None,
    ) -> None:
        """Begin: send PT5 for Port/NonInteractiveCommands (or with KMS), else go READY at once."""
        if self._handshake_seen or self._state is not State.HANDSHAKING:
            raise RuntimeError("the session has already started")
        self._now = now
        self._session_type = session_type
        self._properties = dict(properties or {})
        if session_type in hs.HANDSHAKE_SESSION_TYPES or kms_key_id is not None:
            request = hs.build_request(
                self._version, session_type, properties, kms_key_id, self._random_bytes
            )
            self._handshake_seen = True
            self._handshake_started = now
            self._handshake_deadline = now + self._cfg.handshake_timeout
            self._queue_control_message(PayloadType.HANDSHAKE_REQUEST, request.to_json(), now)
        else:
            self._become_ready("")

    def close_channel(self, now: float, reason: str = "", session_id: str = "") -> None:
        """Queue a ``channel_closed`` message and move to CLOSED.

        Data not framed yet is discarded: wait for ``all_acknowledged()`` first for a clean close.
        """
        if self._state is State.CLOSED:
            return
        self._now = now
        message_id = self._new_id()
        created = self._created_ms(now)
        payload = messages.channel_closed_payload(reason, session_id, str(message_id), created)
        self._control.append(
            encode(
                ClientMessage(
                    message_type=MessageType.CHANNEL_CLOSED.value,
                    sequence_number=0,
                    payload=payload,
                    payload_type=PayloadType.OUTPUT,
                    message_id=message_id,
                    created_date=created,
                )
            )
        )
        self._stop_data(State.CLOSED)

    def _on_first_frame(self, now: float) -> None:
        pass  # the agent's handshake clock starts when it sends PT5, not on the peer's frame

    def _on_peer_traffic(self) -> None:
        self._set_paused(False)

    def _parse_handshake(self, payload_type: int, payload: bytes) -> object:
        if payload_type == PayloadType.HANDSHAKE_RESPONSE:
            return messages.HandshakeResponse.from_json(payload)
        return None

    def _process_in_order(self, message: ClientMessage, parsed: object) -> None:
        if self._state is State.HANDSHAKING:
            if isinstance(parsed, messages.HandshakeResponse) and self._handshake_seen:
                self._on_handshake_response(parsed)
            else:
                self._bump("dropped_before_handshake")  # the real agent drops these too
            return
        if message.payload_type in (
            PayloadType.HANDSHAKE_RESPONSE,
            PayloadType.ENC_CHALLENGE_RESPONSE,
        ):
            return
        self._deliver(message, parsed)

    def _handshake_timeout_reason(self) -> str:
        return f"no HandshakeResponse from the client within {self._cfg.handshake_timeout:g} s"

    def _on_handshake_response(self, response: messages.HandshakeResponse) -> None:
        self._peer_version = response.client_version or self._peer_version
        self._events.append(HandshakeResponded(response.client_version))
        failure = response.failure()
        if failure is not None:
            self._fail(failure)
            return
        elapsed_ns = int((self._now - self._handshake_started) * 1e9)
        complete = messages.HandshakeComplete(max(0, elapsed_ns), "")
        self._queue_control_message(PayloadType.HANDSHAKE_COMPLETE, complete.to_json(), self._now)
        self._become_ready("")
