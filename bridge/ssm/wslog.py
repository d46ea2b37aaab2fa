"""Logging hygiene for the websockets library, shared by the client transport and the emulator."""

from __future__ import annotations

import logging


class WebsocketSecretsFilter(logging.Filter):
    """Keep websockets' debug lines that would carry the request path or the first text frame.

    ``> GET /path?query`` would print the StreamUrl's query, and the frame dump of the open
    frame would print the TokenValue; state changes and close codes stay.
    """

    _SECRET_FORMATS = frozenset(
        {
            "> GET %s HTTP/1.1",  # the client's request line (the StreamUrl's query)
            "< %s %s %s",  # the server's view of that request line
            "> %s",  # frame dumps: the open frame carries the TokenValue
            "< %s",
        }
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self._SECRET_FORMATS
