"""Sans-I/O smux protocol version 1 (xtaci/smux): bytes and time in, frames and events out.

The SSM agent and AWS's plugin multiplex port-forwarding connections with xtaci/smux v1 (see
docs/design/ssm-protocol.md §6). The bytes reach us split into SSM payloads with no regard to frame
boundaries, so the decoder reassembles frames from an arbitrary byte stream. No sockets, no
asyncio, no clock reads here: the asyncio layer (``bridge.ssm.smux``) drives this core.

Receive memory is bounded the way xtaci/smux bounds it: a session-wide budget
(``max_receive_buffer``) counts stream data handed out in ``StreamData`` events until the
consumer calls ``release``; while the budget is spent, ``wants_input`` is false and the I/O layer
stops reading the underlying connection (v1 has no per-stream window to do better).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final

__all__ = [
    "HEADER_SIZE",
    "MAX_PAYLOAD",
    "VERSION",
    "Cmd",
    "Event",
    "Frame",
    "FrameDecoder",
    "SessionClosed",
    "SmuxConfig",
    "SmuxCore",
    "SmuxError",
    "SmuxGoAway",
    "SmuxProtocolError",
    "SmuxSessionClosed",
    "SmuxTimeout",
    "StreamData",
    "StreamFinished",
    "StreamOpened",
]

VERSION: Final = 1
HEADER_SIZE: Final = 8
MAX_PAYLOAD: Final = 0xFFFF  # the length field is a uint16
_MAX_SID: Final = 0xFFFFFFFF
_HEADER = struct.Struct("<BBHI")  # ver, cmd, len (LE), sid (LE)


class SmuxError(ConnectionError):
    """Base of smux failures; a ``ConnectionError`` so stream copy loops treat it as a lost link."""


class SmuxProtocolError(SmuxError):
    """The peer sent bytes that are not smux v1 (bad version, unknown command, bad length)."""


class SmuxSessionClosed(SmuxError):
    """The session is closed (locally, by the peer closing the connection, or after an error)."""


class SmuxTimeout(SmuxSessionClosed):
    """Keepalive: nothing arrived from the peer within ``keepalive_timeout``."""


class SmuxGoAway(SmuxError):
    """Stream ids are exhausted on this session; open a new session."""


class Cmd(enum.IntEnum):
    SYN = 0  # open a stream
    FIN = 1  # end of the sender's half of a stream
    PSH = 2  # stream data
    NOP = 3  # keepalive; sid 0


@dataclass(frozen=True, slots=True)
class Frame:
    cmd: Cmd
    sid: int
    data: bytes = b""

    def encode(self, version: int = VERSION) -> bytes:
        if len(self.data) > MAX_PAYLOAD:
            raise ValueError(f"smux payload of {len(self.data)} bytes exceeds {MAX_PAYLOAD}")
        return _HEADER.pack(version, self.cmd, len(self.data), self.sid) + self.data


class FrameDecoder:
    """Reassembles frames from byte chunks of any size.

    Only PSH carries a payload in v1; xtaci/smux reads no payload for SYN/FIN/NOP whatever the
    length field says, which would desynchronise the stream, so a non-zero length there is
    rejected as a protocol error instead of being followed into garbage.
    """

    def __init__(self, version: int = VERSION) -> None:
        self._version = version
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= HEADER_SIZE:
            ver, cmd, length, sid = _HEADER.unpack_from(buf, pos)
            if ver != self._version:
                raise SmuxProtocolError(f"smux version {ver}, expected {self._version}")
            try:
                command = Cmd(cmd)
            except ValueError:
                raise SmuxProtocolError(f"unknown smux command {cmd}") from None
            if length and command is not Cmd.PSH:
                raise SmuxProtocolError(f"smux {command.name} with a {length}-byte payload")
            end = pos + HEADER_SIZE + length
            if end > len(buf):
                break
            frames.append(Frame(command, sid, bytes(buf[pos + HEADER_SIZE : end])))
            pos = end
        del buf[:pos]
        return frames


@dataclass(frozen=True, slots=True)
class SmuxConfig:
    """Defaults follow xtaci/smux ``DefaultConfig`` except keepalive, which is off.

    Keepalive is off because smconnect reports a ClientVersion above 1.2.331.0, for which the
    agent turns its own keepalive off; smux NOPs would also defeat Session Manager's idle timeout.
    """

    version: int = VERSION
    keepalive: bool = False
    keepalive_interval: float = 10.0  # send a NOP this often
    keepalive_timeout: float = 30.0  # close if nothing arrives for this long
    max_frame_size: int = 32768  # largest PSH payload we send
    max_receive_buffer: int = 4 * 1024 * 1024  # session-wide unreleased stream data

    def __post_init__(self) -> None:
        if self.version != VERSION:
            raise ValueError("only smux protocol version 1 is implemented")
        if not 0 < self.max_frame_size <= MAX_PAYLOAD:
            raise ValueError(f"max_frame_size must be in 1..{MAX_PAYLOAD}")
        if self.max_receive_buffer <= 0:
            raise ValueError("max_receive_buffer must be positive")
        if self.keepalive and not 0 < self.keepalive_interval <= self.keepalive_timeout:
            raise ValueError("need 0 < keepalive_interval <= keepalive_timeout")


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamOpened:
    """The peer opened a stream (SYN)."""

    sid: int


@dataclass(frozen=True, slots=True)
class StreamData:
    """Stream data; its length counts against the receive budget until ``release``."""

    sid: int
    data: bytes


@dataclass(frozen=True, slots=True)
class StreamFinished:
    """The peer will send no more on this stream (FIN)."""

    sid: int


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """The session ended by itself: a protocol error or a keepalive timeout."""

    error: SmuxError


Event = StreamOpened | StreamData | StreamFinished | SessionClosed


@dataclass(slots=True)
class _Stream:
    fin_sent: bool = False
    fin_received: bool = False
    unreleased: int = 0


class SmuxCore:
    """One smux session, either role. The client opens odd stream ids (3, 5, ...), the server even.

    A stream is forgotten once both FINs have passed and its data is released, or at once on
    ``close_stream``; frames for a forgotten or unknown stream are dropped, as xtaci/smux does.
    """

    def __init__(self, *, client: bool, config: SmuxConfig | None = None, now: float = 0.0) -> None:
        self._config = config or SmuxConfig()
        self._decoder = FrameDecoder(self._config.version)
        self._next_sid = 1 if client else 0
        self._go_away = False
        self._streams: dict[int, _Stream] = {}
        self._out = bytearray()
        self._events: list[Event] = []
        self._unreleased = 0
        self._closed = False
        self._last_received = now
        self._next_ping = now + self._config.keepalive_interval

    @property
    def config(self) -> SmuxConfig:
        return self._config

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def stream_ids(self) -> frozenset[int]:
        return frozenset(self._streams)

    @property
    def wants_input(self) -> bool:
        """False while the receive budget is spent: stop reading the connection until releases."""
        return not self._closed and self._unreleased < self._config.max_receive_buffer

    @property
    def pending_output(self) -> int:
        return len(self._out)

    # ---- local actions --------------------------------------------------------------------

    def open_stream(self) -> int:
        self._check_open()
        if self._go_away or self._next_sid + 2 > _MAX_SID:
            self._go_away = True
            raise SmuxGoAway("smux stream ids exhausted")
        self._next_sid += 2
        sid = self._next_sid
        self._streams[sid] = _Stream()
        self._emit(Cmd.SYN, sid)
        return sid

    def send(self, sid: int, data: bytes) -> None:
        self._check_open()
        stream = self._streams.get(sid)
        if stream is None or stream.fin_sent:
            raise SmuxError(f"smux stream {sid} is closed for sending")
        step = self._config.max_frame_size
        view = memoryview(data)
        for start in range(0, len(view), step):
            chunk = view[start : start + step]
            self._out += _HEADER.pack(self._config.version, Cmd.PSH, len(chunk), sid)
            self._out += chunk

    def finish(self, sid: int) -> None:
        """Send FIN (half close); idempotent. Reading goes on until the peer's FIN."""
        stream = self._streams.get(sid)
        if self._closed or stream is None or stream.fin_sent:
            return
        stream.fin_sent = True
        self._emit(Cmd.FIN, sid)
        self._maybe_forget(sid, stream)

    def close_stream(self, sid: int) -> None:
        """FIN if not yet sent, then forget the stream and return its unreleased budget."""
        self.finish(sid)
        stream = self._streams.pop(sid, None)
        if stream is not None:
            self._unreleased -= stream.unreleased

    def release(self, sid: int, n: int) -> None:
        """The consumer took ``n`` bytes of ``sid``'s data: they no longer count as buffered."""
        stream = self._streams.get(sid)
        if stream is None:
            return
        n = min(n, stream.unreleased)
        stream.unreleased -= n
        self._unreleased -= n
        self._maybe_forget(sid, stream)

    def close(self) -> None:
        """Local session close: output already queued may still be drained and sent."""
        self._closed = True
        self._streams.clear()
        self._unreleased = 0

    # ---- input ----------------------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> None:
        if self._closed or not data:
            return
        self._last_received = now
        try:
            frames = self._decoder.feed(data)
        except SmuxProtocolError as exc:
            self._fail(exc)
            return
        for frame in frames:
            self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        sid = frame.sid
        stream = self._streams.get(sid)
        if frame.cmd is Cmd.SYN:
            if stream is None:
                self._streams[sid] = _Stream()
                self._events.append(StreamOpened(sid))
        elif frame.cmd is Cmd.FIN:
            if stream is not None and not stream.fin_received:
                stream.fin_received = True
                self._events.append(StreamFinished(sid))
                self._maybe_forget(sid, stream)
        elif frame.cmd is Cmd.PSH and stream is not None and not stream.fin_received and frame.data:
            stream.unreleased += len(frame.data)
            self._unreleased += len(frame.data)
            self._events.append(StreamData(sid, frame.data))

    # ---- time -----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        if self._closed or not self._config.keepalive:
            return None
        return min(self._next_ping, self._last_received + self._config.keepalive_timeout)

    def tick(self, now: float) -> None:
        if self._closed or not self._config.keepalive:
            return
        if not self.wants_input:
            # We are not reading, so the peer's silence proves nothing (xtaci/smux agrees).
            self._last_received = now
        if now >= self._last_received + self._config.keepalive_timeout:
            self._fail(SmuxTimeout(f"no smux traffic for {self._config.keepalive_timeout:g} s"))
            return
        if now >= self._next_ping:
            self._emit(Cmd.NOP, 0)
            interval = self._config.keepalive_interval
            self._next_ping += interval * (int((now - self._next_ping) // interval) + 1)

    # ---- output ---------------------------------------------------------------------------

    def frames_to_send(self, limit: int | None = None) -> bytes:
        """Drain up to ``limit`` bytes of encoded frames (smux rides a byte stream, so they
        come as one buffer; the data-channel cores' drain of the same name gives a list)."""
        n = len(self._out) if limit is None else min(limit, len(self._out))
        data = bytes(self._out[:n])
        del self._out[:n]
        return data

    def events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    # ---- helpers --------------------------------------------------------------------------

    def _emit(self, cmd: Cmd, sid: int) -> None:
        self._out += _HEADER.pack(self._config.version, cmd, 0, sid)

    def _check_open(self) -> None:
        if self._closed:
            raise SmuxSessionClosed("smux session is closed")

    def _maybe_forget(self, sid: int, stream: _Stream) -> None:
        if stream.fin_sent and stream.fin_received and stream.unreleased == 0:
            del self._streams[sid]

    def _fail(self, error: SmuxError) -> None:
        self.close()
        self._out.clear()
        self._events.append(SessionClosed(error))
