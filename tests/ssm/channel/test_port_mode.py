"""Basic vs mux must be chosen exactly as the plugin chooses, or the agent's bytes are garbage."""

from __future__ import annotations

import pytest

from bridge.ssm.port import PortMode, port_mode, version_greater


@pytest.mark.parametrize(
    ("version", "than", "expected"),
    [
        ("3.0.196.1", "3.0.196.0", True),
        ("3.0.197.0", "3.0.196.0", True),
        ("3.3.1802.0", "3.0.196.0", True),
        ("4.0.0.0", "3.0.196.0", True),
        ("3.0.196.0", "3.0.196.0", False),  # strictly greater
        ("3.0.195.9", "3.0.196.0", False),
        ("2.9.999.999", "3.0.196.0", False),
        ("3.0.196", "3.0.196.0", False),  # different component counts compare as false
        ("3.0.196.0.1", "3.0.196.0", False),
        ("", "3.0.196.0", False),
        ("3.x.0.0", "3.0.196.0", False),  # non-integer before the decision
        ("4.x.0.0", "3.0.196.0", True),  # ... but Go decides at the first component
        ("03.0.196.1", "3.0.196.0", True),  # Atoi accepts leading zeros
    ],
)
def test_version_greater_matches_the_plugin(version: str, than: str, expected: bool) -> None:
    assert version_greater(version, than) is expected


def test_mode_choice() -> None:
    lpf = {"type": "LocalPortForwarding", "portNumber": "8888", "localPortNumber": "0"}
    assert port_mode({"portNumber": "22"}, "3.3.1802.0") is PortMode.STREAM
    assert port_mode(lpf, "3.3.1802.0") is PortMode.MUX
    assert port_mode(lpf, "3.0.196.0") is PortMode.BASIC
    assert port_mode(lpf, "3.0.196") is PortMode.BASIC
    assert port_mode(lpf, None) is PortMode.BASIC
    assert port_mode({**lpf, "type": "localportforwarding"}, "3.3.1802.0") is PortMode.STREAM
    # a client reporting a pre-1.1.70 version gets basic mode from the agent: follow it
    assert port_mode(lpf, "3.3.1802.0", "1.1.0") is PortMode.BASIC
    assert port_mode(lpf, "3.3.1802.0", "1.1.70") is PortMode.MUX
    assert port_mode(lpf, "3.3.1802.0", "junk") is PortMode.BASIC
