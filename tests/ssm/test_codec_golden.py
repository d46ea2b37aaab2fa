"""Golden vectors hand-written from ssm-protocol.md, never produced by the codec itself."""

import uuid

from bridge.ssm.codec import uuid_from_wire, uuid_to_wire


def test_uuid_halves_are_swapped_on_the_wire() -> None:
    value = uuid.UUID("dd01e56b-ff48-483e-a508-b5f073f31b16")
    wire = bytes.fromhex("a508b5f073f31b16dd01e56bff48483e")
    assert uuid_to_wire(value) == wire
    assert uuid_from_wire(wire) == value
