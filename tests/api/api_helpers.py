"""What the API tests import: the names of what the ``sandbox`` fixture adds to the default
emulator world (an expired key, a space whose host key rotates)."""

from __future__ import annotations

from bridge.emulator.config import DelaysConfig

__all__ = ["EXPIRED_KEY", "EXPIRED_SECRET", "EXPIRED_TOKEN", "FAST_DELAYS", "ROTATING"]

FAST_DELAYS = DelaysConfig(
    app_start=0.3, app_stop=0.2, space_update=0.1, start_session_failure_window=0.3
)
# A key the emulator knows but answers ExpiredToken for; the profile "expired" uses it.
EXPIRED_KEY = "ASIAEMULATOREXPIRED1"
EXPIRED_SECRET = "expiredSecretDoNotLeak"
EXPIRED_TOKEN = "expiredSessionTokenDoNotLeak"
# A space whose host key the tests change behind the daemon's back; a Code Editor space, as its
# runtime restarts in milliseconds (no Jupyter server).
ROTATING = "rotating"
