"""A minimal data-channel client (the real core, client role, over real websockets) and targets.

The production transport lives elsewhere; this one exists so the broker is tested against the
protocol core alone, with every reconnect under the test's control.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bridge.ssm.client_core import ClientChannelCore
from bridge.ssm.codec import Flag, PayloadType
from bridge.ssm.core import (
    ChannelClosed,
    CoreConfig,
    DataReceived,
    Event,
    FlagReceived,
    SessionFailed,
    SessionReady,
)
from bridge.ssm.driver import CoreDriver
from bridge.ssm.wsbatch import write_batch


class TestClient:
    """Drives a ClientChannelCore over one websocket at a time."""

    __test__ = False

    def __init__(
        self,
        stream_url: str,
        *,
        config: CoreConfig | None = None,
        version: str | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.url = stream_url
        self.core = ClientChannelCore(
            self.loop.time(),
            config=config or CoreConfig(rate_limit=None),
            version=version,
        )
        self.ws: ClientConnection | None = None
        self.data = bytearray()
        self.events: list[Event] = []
        self.flags: list[int] = []
        self.ready = asyncio.Event()
        self.closed = asyncio.Event()  # channel_closed or a failed session
        self.disconnected = asyncio.Event()
        self.close_reason: str | None = None
        self._got_data = asyncio.Event()
        self._writable = asyncio.Event()
        self.driver = CoreDriver(self.core, self.pump, self.loop)
        self._reader: asyncio.Task[None] | None = None
        self.on_data: Callable[[bytes], None] | None = None

    async def connect(self, token: str, *, resume: bool = False) -> None:
        ws = await connect(self.url, ping_interval=None, max_size=None, compression=None)
        await ws.send(self.core.open_frame(token))
        self.ws = ws
        self.disconnected.clear()
        if resume:
            self.core.connection_resumed(self.loop.time())
        self._reader = asyncio.create_task(self._read(ws))
        self.pump()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    self.core.receive(message, self.loop.time())
                    self.pump()
        except ConnectionClosed:
            pass
        finally:
            if self.ws is ws:
                self.ws = None
                self.core.connection_lost(self.loop.time())
            self.disconnected.set()

    def pump(self) -> None:
        for event in self.core.events():
            self.events.append(event)
            match event:
                case SessionReady():
                    self.ready.set()
                case DataReceived(data=data, payload_type=pt) if pt == PayloadType.OUTPUT:
                    self.data += data
                    if self.on_data is not None:
                        self.on_data(data)
                    self._got_data.set()
                case FlagReceived(flag=flag):
                    self.flags.append(flag)
                    self._got_data.set()
                case ChannelClosed(reason=reason):
                    self.close_reason = reason
                    self.closed.set()
                case SessionFailed(reason=reason):
                    self.close_reason = reason
                    self.closed.set()
                case _:
                    pass
        if self.ws is not None:
            frames = self.core.frames_to_send(self.loop.time())
            if frames:
                write_batch(self.ws, frames)
        if self.core.writable() > 0:
            self._writable.set()
        self.driver.arm()

    async def send(self, data: bytes, payload_type: int = PayloadType.OUTPUT) -> None:
        view = memoryview(data)
        while view:
            accepted = self.core.send(bytes(view[:65536]), self.loop.time(), payload_type)
            view = view[accepted:]
            self.pump()
            if view and not accepted:
                self._writable.clear()
                await self._writable.wait()

    def send_flag(self, flag: Flag) -> None:
        self.core.send_flag(flag, self.loop.time())
        self.pump()

    async def wait_for_data(
        self, predicate: Callable[[bytearray], bool], timeout: float = 10
    ) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self.data):
                self._got_data.clear()
                await self._got_data.wait()

    async def wait_acked(self, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not self.core.all_acknowledged():
                await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        self.driver.stop()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
