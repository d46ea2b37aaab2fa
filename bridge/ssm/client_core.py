"""The client side of the data channel (what the transport runs): it answers the handshake.

It sends ``input_stream_data``, opens every connection with an OpenDataChannelInput, answers the
agent's HandshakeRequest (PT5) with a HandshakeResponse (PT6) and becomes ready on the
HandshakeComplete (PT7), or on the first output of a session without a handshake.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from bridge.ssm import _handshake as hs
from bridge.ssm import messages
from bridge.ssm.codec import ClientMessage, MessageType, PayloadType
from bridge.ssm.core import CLIENT_VERSION, Event, HandshakeRequested, State
from bridge.ssm.errors import KMSUnsupported
from bridge.ssm.messages import OpenDataChannelInput
from bridge.ssm.sequenced import SequencedCore

# Payload types whose first arrival, with no HandshakeRequest before it, means "no handshake".
_STANDARD_STREAM_TRIGGERS = frozenset(
    {PayloadType.OUTPUT, PayloadType.ERROR, PayloadType.STDERR, PayloadType.EXIT_CODE}
)


class ClientChannelCore(SequencedCore):
    """The client's data channel state: handshake answer, early data held until ready."""

    _OUT_TYPE = MessageType.INPUT_STREAM_DATA.value
    _IN_TYPE = MessageType.OUTPUT_STREAM_DATA.value

    _VERSION = CLIENT_VERSION

    def _default_client_id(self, new_id: Callable[[], uuid.UUID]) -> str:
        return str(new_id())

    def _started(self, now: float) -> None:
        self._handshake_deadline = now + self._cfg.handshake_timeout
        self._early: list[Event] = []  # data between PT5 and PT7, released on ready

    def open_frame(self, token: str) -> str:
        """The OpenDataChannelInput text for a (re)connection: new RequestId, same ClientId."""
        return OpenDataChannelInput(
            token_value=token,
            client_id=self._client_id,
            request_id=str(self._new_id()),
            client_version=self._version,
        ).to_json()

    def _on_peer_traffic(self) -> None:
        pass  # only the agent side resumes publication on the peer's traffic

    def _on_first_frame(self, now: float) -> None:
        if self._state is State.HANDSHAKING:
            # The agent is alive: give it the whole timeout from here.
            self._handshake_deadline = now + self._cfg.handshake_timeout

    def _parse_handshake(self, payload_type: int, payload: bytes) -> object:
        if payload_type == PayloadType.HANDSHAKE_REQUEST:
            return messages.HandshakeRequest.from_json(payload)
        if payload_type == PayloadType.HANDSHAKE_COMPLETE:
            return messages.HandshakeComplete.from_json(payload)
        return None

    def _process_in_order(self, message: ClientMessage, parsed: object) -> None:
        kind = message.payload_type
        if isinstance(parsed, messages.HandshakeRequest):
            self._on_handshake_request(parsed)
        elif isinstance(parsed, messages.HandshakeComplete):
            if self._state is State.HANDSHAKING:
                self._become_ready(parsed.customer_message)
        elif kind == PayloadType.ENC_CHALLENGE_REQUEST:
            self._fail(
                f"the agent sent a KMS challenge; {hs.KMS_UNSUPPORTED_ERROR}", KMSUnsupported
            )
        elif self._state in (State.READY, State.DRAINING):
            self._deliver(message, parsed)
        elif not self._handshake_seen and kind in _STANDARD_STREAM_TRIGGERS:
            self._session_type = "Standard_Stream"
            self._become_ready("")
            self._deliver(message, parsed)
        else:
            self._early.append(self._as_event(message, parsed))

    def _handshake_timeout_reason(self) -> str:
        return f"no HandshakeComplete from the agent within {self._cfg.handshake_timeout:g} s"

    def _on_handshake_request(self, request: messages.HandshakeRequest) -> None:
        if self._handshake_seen or self._state is not State.HANDSHAKING:
            return
        self._handshake_seen = True
        self._peer_version = request.agent_version
        answer = hs.answer_request(request, self._version)
        self._session_type = answer.session_type or None
        self._properties = answer.properties
        self._events.append(
            HandshakeRequested(answer.session_type, answer.properties, request.agent_version)
        )
        self._queue_control_message(
            PayloadType.HANDSHAKE_RESPONSE, answer.response.to_json(), self._now
        )
        if answer.failure is not None:
            self._fail(answer.failure, answer.error)

    def _become_ready(self, customer_message: str) -> None:
        super()._become_ready(customer_message)
        if self._early:
            self._events.extend(self._early)
            self._early = []

    def _stop_data(self, state: State) -> None:
        super()._stop_data(state)
        self._early = []
