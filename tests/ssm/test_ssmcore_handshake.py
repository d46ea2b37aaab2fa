"""Session start-up through the core pair: both handshake paths, refusals and timeouts."""

from __future__ import annotations

import json
import uuid

import pytest

from bridge.ssm.agent_core import AgentChannelCore
from bridge.ssm.client_core import ClientChannelCore
from bridge.ssm.codec import FrameError, PayloadType
from bridge.ssm.core import (
    CoreConfig,
    DataReceived,
    FrameRejected,
    HandshakeRequested,
    HandshakeResponded,
    SessionFailed,
    SessionReady,
    State,
)
from bridge.ssm.errors import HandshakeError, HandshakeTimeout, KMSUnsupported
from bridge.ssm.messages import OpenDataChannelInput

from .ssmcore_link import Link, acked_sequences, data_messages, decoded, drain, make_frame


def both_ready(link: Link) -> bool:
    return link.client.core.state is State.READY and link.agent.core.state is State.READY


# ---- the first text frame ------------------------------------------------------------------


def test_open_frame_has_fresh_request_id_and_stable_client_id() -> None:
    core = ClientChannelCore(0.0)
    first = json.loads(core.open_frame("tok-1"))
    second = json.loads(core.open_frame("tok-2"))
    assert list(first) == [
        "MessageSchemaVersion",
        "RequestId",
        "TokenValue",
        "ClientId",
        "ClientVersion",
    ]
    assert first["MessageSchemaVersion"] == "1.0"
    assert first["TokenValue"] == "tok-1" and second["TokenValue"] == "tok-2"
    assert first["ClientId"] == second["ClientId"] == core.client_id
    assert first["RequestId"] != second["RequestId"]
    for value in (first["RequestId"], first["ClientId"]):
        assert uuid.UUID(value).version == 4
        assert value == value.lower()
    assert first["ClientVersion"] == "1.2.677.0"
    assert ClientChannelCore(0.0).client_id != core.client_id


def test_ids_and_randomness_come_from_the_constructor() -> None:
    ids = iter(uuid.UUID(int=n) for n in range(1, 10))
    client = ClientChannelCore(0.0, new_id=lambda: next(ids), random_bytes=lambda n: b"\x07" * n)
    opened = json.loads(client.open_frame("tok"))
    assert client.client_id == str(uuid.UUID(int=1))
    assert opened["RequestId"] == str(uuid.UUID(int=2))
    client.receive(make_frame("output_stream_data", 0, b"hello", 1), 0.0)  # no handshake
    client.send(b"x", 0.0)
    frames = decoded(client.frames_to_send(0.0))
    assert [m.message_type for m in frames] == ["acknowledge", "input_stream_data"]
    # every MessageId is the pinned bytes, turned into a version-4 UUID
    assert {str(m.message_id)[:8] for m in frames} == {"07070707"}


def test_open_frame_round_trips_and_hides_the_token() -> None:
    core = ClientChannelCore(0.0, version="1.2.700.0")
    parsed = OpenDataChannelInput.from_json(core.open_frame("secret-token"))
    assert parsed.token_value == "secret-token"
    assert parsed.client_id == core.client_id
    assert parsed.client_version == "1.2.700.0"
    assert "secret-token" not in repr(parsed)
    assert OpenDataChannelInput.from_json(parsed.to_json()) == parsed


def test_open_frame_without_client_version_is_accepted() -> None:
    text = json.dumps(
        {
            "MessageSchemaVersion": "1.0",
            "RequestId": str(uuid.uuid4()),
            "TokenValue": "t",
            "ClientId": str(uuid.uuid4()),
        }
    )
    assert OpenDataChannelInput.from_json(text).client_version == ""


GOOD = {
    "MessageSchemaVersion": "1.0",
    "RequestId": "6f1c3a52-8f43-4a0e-9e51-0f4a9a3c2b11",
    "TokenValue": "tok",
    "ClientId": "0b6b1c6e-4bd4-4c8e-9b9a-3f1f2e7d5c10",
    "ClientVersion": "1.2.677.0",
}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '"string"',
        "[" * 100_000,
        json.dumps({**GOOD, "TokenValue": ""}),
        json.dumps({**GOOD, "TokenValue": 5}),
        json.dumps({k: v for k, v in GOOD.items() if k != "TokenValue"}),
        json.dumps({k: v for k, v in GOOD.items() if k != "ClientId"}),
        json.dumps({**GOOD, "RequestId": "not-a-uuid"}),
        json.dumps({**GOOD, "ClientId": None}),
        json.dumps({**GOOD, "ClientVersion": 3}),
        json.dumps({**GOOD, "MessageSchemaVersion": 1}),
    ],
)
def test_malformed_open_frames_raise_frame_error(text: str) -> None:
    with pytest.raises(FrameError) as info:
        OpenDataChannelInput.from_json(text)
    assert "tok" not in str(info.value)


def test_agent_learns_the_client_from_the_open_frame() -> None:
    client = ClientChannelCore(0.0)
    agent = AgentChannelCore(0.0)
    agent.accept_open(client.open_frame("t"))
    assert agent.client_id == client.client_id
    assert agent.peer_version == "1.2.677.0"


# ---- handshake path ----------------------------------------------------------------------


def test_port_handshake_flow() -> None:
    link = Link.pair(session_type="Port", properties={"portNumber": "22"})
    link.client.record = link.agent.record = True
    link.run(until=5.0, stop=lambda: both_ready(link))
    assert both_ready(link)

    agent_sent = decoded([f for _, f in link.agent.sent_frames])
    request = agent_sent[0]
    assert (request.message_type, request.sequence_number, request.flags) == (
        "output_stream_data",
        0,
        1,
    )
    assert request.payload_type == PayloadType.HANDSHAKE_REQUEST
    body = json.loads(request.payload)
    assert body["AgentVersion"] == "3.3.1802.0"
    assert body["RequestedClientActions"] == [
        {
            "ActionType": "SessionType",
            "ActionParameters": {"SessionType": "Port", "Properties": {"portNumber": "22"}},
        }
    ]

    # The client acks the request first, then answers it with seq 0.
    client_sent = decoded([f for _, f in link.client.sent_frames])
    assert client_sent[0].message_type == "acknowledge"
    assert (client_sent[0].sequence_number, client_sent[0].flags) == (0, 3)
    assert acked_sequences([link.client.sent_frames[0][1]]) == [0]
    response = client_sent[1]
    assert (response.message_type, response.sequence_number, response.flags) == (
        "input_stream_data",
        0,
        0,
    )
    assert response.payload_type == PayloadType.HANDSHAKE_RESPONSE
    assert json.loads(response.payload) == {
        "ClientVersion": "1.2.677.0",
        "ProcessedClientActions": [
            {"ActionType": "SessionType", "ActionStatus": 1, "ActionResult": None, "Error": ""}
        ],
        "Errors": None,
    }

    complete = [m for m in agent_sent if m.payload_type == PayloadType.HANDSHAKE_COMPLETE]
    assert len(complete) == 1
    assert complete[0].sequence_number == 1 and complete[0].flags == 0
    body = json.loads(complete[0].payload)
    assert body["CustomerMessage"] == ""
    assert isinstance(body["HandshakeTimeToComplete"], int)
    assert body["HandshakeTimeToComplete"] == pytest.approx(20_000_000, rel=0.01)  # 2 x 10 ms
    assert 1 in acked_sequences([f for _, f in link.client.sent_frames])

    client_events = link.client.events
    assert client_events[0] == HandshakeRequested("Port", {"portNumber": "22"}, "3.3.1802.0")
    assert client_events[1] == SessionReady("Port", {"portNumber": "22"}, "")
    assert link.agent.events == [
        HandshakeResponded("1.2.677.0"),
        SessionReady("Port", {"portNumber": "22"}, ""),
    ]
    assert link.client.core.session_type == "Port"
    assert link.client.core.peer_version == "3.3.1802.0"
    assert link.agent.core.peer_version == "1.2.677.0"


def test_non_interactive_commands_run_the_handshake() -> None:
    link = Link.pair(session_type="NonInteractiveCommands", properties={})
    link.run(until=5.0, stop=lambda: both_ready(link))
    assert both_ready(link)
    assert isinstance(link.client.events[0], HandshakeRequested)
    assert link.client.core.session_type == "NonInteractiveCommands"


def test_handshake_survives_loss_of_the_request() -> None:
    dropped: list[int] = []

    def fate(direction: str, frame: bytes) -> list[float]:
        if direction == "agent" and not dropped:
            dropped.append(1)  # the first PT5 is lost: the agent must resend it
            return []
        return [0.01]

    link = Link.pair(fate=fate)
    link.run(until=5.0, stop=lambda: both_ready(link))
    assert both_ready(link)
    assert link.agent.core.stats.retransmissions >= 1


# ---- the no-handshake path ---------------------------------------------------------------


@pytest.mark.parametrize("session_type", ["Standard_Stream", "InteractiveCommands"])
def test_shell_sessions_start_without_handshake(session_type: str) -> None:
    link = Link.pair(session_type=session_type, properties={})
    agent = link.agent.core
    assert agent.state is State.READY
    assert link.agent.events == [] and agent.events() == [SessionReady(session_type, {}, "")]
    link.client.core.send(b"whoami\n", link.now)  # held until the client is ready
    assert drain(link.client.core, 0.0) == []
    agent.send(b"sh-5.2$ ", 0.0)
    link.run(until=2.0, stop=lambda: bool(link.agent.received))
    client = link.client.core
    assert client.state is State.READY
    assert client.session_type == "Standard_Stream"
    assert link.client.events[:2] == [
        SessionReady("Standard_Stream", {}, ""),
        DataReceived(b"sh-5.2$ ", PayloadType.OUTPUT),
    ]
    assert bytes(link.agent.received) == b"whoami\n"  # no "\n" -> "\r" rewrite


# ---- refusals ----------------------------------------------------------------------------


def test_kms_encryption_is_refused_and_fails_both_sides() -> None:
    client = ClientChannelCore(0.0)
    agent = AgentChannelCore(0.0)
    link = Link(client, agent)
    link.client.record = True
    agent.start_session(0.0, "Port", {"portNumber": "22"}, kms_key_id="arn:aws:kms:k")
    link.run(until=5.0, stop=lambda: agent.state is State.FAILED)

    assert client.state is State.FAILED
    failure = [e for e in link.client.events if isinstance(e, SessionFailed)]
    assert len(failure) == 1
    assert "KMS encryption is not supported" in failure[0].reason
    assert failure[0].error is KMSUnsupported
    response = next(
        m
        for m in data_messages([f for _, f in link.client.sent_frames])
        if m.payload_type == PayloadType.HANDSHAKE_RESPONSE
    )
    body = json.loads(response.payload)
    statuses = {a["ActionType"]: a for a in body["ProcessedClientActions"]}
    assert statuses["SessionType"]["ActionStatus"] == 1
    assert statuses["KMSEncryption"]["ActionStatus"] == 3
    assert "KMS encryption is not supported" in statuses["KMSEncryption"]["Error"]
    assert body["Errors"] == [statuses["KMSEncryption"]["Error"]]

    agent_failure = [e for e in link.agent.events if isinstance(e, SessionFailed)]
    assert len(agent_failure) == 1 and "KMSEncryption status 3" in agent_failure[0].reason
    with pytest.raises(Exception, match="failed"):
        client.send(b"x", link.now)


def test_unknown_session_type_and_action_are_refused() -> None:
    client = ClientChannelCore(0.0)
    request = {
        "AgentVersion": "3.9.0.0",
        "RequestedClientActions": [
            {"ActionType": "SessionType", "ActionParameters": {"SessionType": "Teleport"}},
            {"ActionType": "Telepathy", "ActionParameters": {}},
        ],
    }
    client.receive(make_frame("output_stream_data", 0, json.dumps(request).encode(), 5, 1), 0.1)
    events = client.events()
    failure = [e for e in events if isinstance(e, SessionFailed)]
    assert failure and "Teleport" in failure[0].reason and failure[0].error is HandshakeError
    assert client.state is State.FAILED
    frames = drain(client, 0.1)
    assert acked_sequences(frames) == [0]
    (response,) = data_messages(frames)
    actions = json.loads(response.payload)["ProcessedClientActions"]
    assert [(a["ActionType"], a["ActionStatus"]) for a in actions] == [
        ("SessionType", 2),
        ("Telepathy", 3),
    ]


def test_agent_fails_on_any_action_status_other_than_success() -> None:
    agent = AgentChannelCore(0.0)
    agent.start_session(0.0, "Port", {"portNumber": "22"})
    drain(agent, 0.0)
    response = {
        "ClientVersion": "1.0.0.0",
        "ProcessedClientActions": [{"ActionType": "SessionType", "ActionStatus": 2}],
    }
    agent.receive(make_frame("input_stream_data", 0, json.dumps(response).encode(), 6), 0.1)
    events = agent.events()
    assert events[0] == HandshakeResponded("1.0.0.0")
    assert isinstance(events[1], SessionFailed) and agent.state is State.FAILED


def test_malformed_handshake_request_is_rejected_unacked() -> None:
    client = ClientChannelCore(0.0)
    for payload in (b"{not json", b"[1,2]", b'{"RequestedClientActions":5}'):
        client.receive(make_frame("output_stream_data", 0, payload, 5, flags=1), 0.1)
    events = client.events()
    assert len(events) == 3 and all(isinstance(e, FrameRejected) for e in events)
    assert client.stats.frames_rejected == 3
    assert drain(client, 0.1) == []  # no ack: the agent will resend
    assert client.state is State.HANDSHAKING


# ---- timeouts ----------------------------------------------------------------------------


def test_agent_times_out_without_a_handshake_response() -> None:
    config = CoreConfig(handshake_timeout=2.0)
    link = Link.pair(config, fate=lambda d, f: [] if d == "client" else [0.01])
    link.run(until=10.0, stop=lambda: link.agent.core.state is State.FAILED)
    assert link.agent.core.state is State.FAILED
    assert link.now == pytest.approx(2.0)
    failure = [e for e in link.agent.events if isinstance(e, SessionFailed)]
    assert failure[0].error is HandshakeTimeout


def test_client_times_out_without_handshake_complete() -> None:
    config = CoreConfig(handshake_timeout=2.0)
    # Only the PT5 gets through, at t=0.01: the client's clock restarts there.
    link = Link.pair(config, fate=lambda d, f: [0.01] if d == "agent" else [])
    link.run(until=10.0, stop=lambda: link.client.core.state is State.FAILED)
    assert link.client.core.state is State.FAILED
    assert link.now == pytest.approx(2.01)
    failure = [e for e in link.client.events if isinstance(e, SessionFailed)]
    assert failure[0].error is HandshakeTimeout
    assert "HandshakeComplete" in failure[0].reason


def test_client_times_out_when_nothing_arrives() -> None:
    client = ClientChannelCore(100.0, config=CoreConfig(handshake_timeout=3.0))
    assert client.next_deadline() == 103.0
    client.tick(102.9)
    assert client.state is State.HANDSHAKING
    client.tick(103.0)
    assert client.state is State.FAILED
    assert isinstance(client.events()[0], SessionFailed)
    assert client.next_deadline() is None


# ---- early data --------------------------------------------------------------------------


def test_agent_acks_and_drops_input_before_handshake_complete() -> None:
    agent = AgentChannelCore(0.0)
    agent.start_session(0.0, "Port", {"portNumber": "22"})
    drain(agent, 0.0)
    agent.receive(make_frame("input_stream_data", 0, b"too early"), 0.05)
    assert acked_sequences(drain(agent, 0.05)) == [0]
    assert agent.events() == []
    assert agent.stats.extra["dropped_before_handshake"] == 1
    response = {
        "ClientVersion": "1.2.677.0",
        "ProcessedClientActions": [{"ActionType": "SessionType", "ActionStatus": 1}],
    }
    agent.receive(make_frame("input_stream_data", 1, json.dumps(response).encode(), 6), 0.1)
    assert agent.state is State.READY
    agent.receive(make_frame("input_stream_data", 2, b"on time"), 0.2)
    assert DataReceived(b"on time", 1) in agent.events()


def test_client_holds_data_until_handshake_complete() -> None:
    link = Link.pair()
    link.client.record = True
    link.client.core.send(b"SSH-2.0-OpenSSH_9.6\r\n", 0.0)
    link.run(until=5.0, stop=lambda: bool(link.agent.received))
    assert bytes(link.agent.received) == b"SSH-2.0-OpenSSH_9.6\r\n"
    assert link.agent.core.stats.extra.get("dropped_before_handshake", 0) == 0
    # the data went out only after the client had acked the HandshakeComplete (agent seq 1)
    frames = [f for _, f in link.client.sent_frames]
    first_data = next(
        i for i, m in enumerate(decoded(frames)) if m.payload_type == PayloadType.OUTPUT
    )
    assert 1 in acked_sequences(frames[:first_data])


def test_kms_challenge_fails_the_client() -> None:
    client = ClientChannelCore(0.0)
    client.receive(make_frame("output_stream_data", 0, b'{"Challenge":"AAAA"}', 8, 1), 0.1)
    (failure,) = client.events()
    assert isinstance(failure, SessionFailed) and failure.error is KMSUnsupported
    assert client.state is State.FAILED
    assert acked_sequences(drain(client, 0.1)) == [0]
