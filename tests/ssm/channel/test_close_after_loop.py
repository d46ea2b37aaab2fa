"""A stream closed while its event loop is not running: no task created on a stopped loop.

asyncio's ``StreamWriter.__del__`` closes its transport when the writer is collected, which can
happen after its loop stopped (a test's loop ended, the daemon exiting). The channel used to
call ``asyncio.create_task`` there, with no running loop: a RuntimeError raised from the
finaliser and a "coroutine ... was never awaited" warning. The close now goes to the channel's
own loop, and runs if that loop runs again.
"""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

from bridge.emulator.agent import SessionBroker

from .channel_helpers import BulkTarget, Harness, Space


def test_a_transport_closed_while_its_loop_is_stopped_closes_when_the_loop_runs_again(
    tmp_path: Path,
) -> None:
    loop = asyncio.new_event_loop()
    try:
        broker = SessionBroker(pacing="unthrottled")
        loop.run_until_complete(broker.start())
        space = Space(tmp_path)
        target = BulkTarget(upload=5)
        loop.run_until_complete(space.listen(22, target.handle))
        channel, _grant = loop.run_until_complete(Harness(broker, space).open())
        _reader, writer = channel.streams()
        writer.write(b"12345")
        assert not channel.is_closing

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "coroutine ... was never awaited" would raise
            writer.transport.close()  # what StreamWriter.__del__ does; no loop is running
            writer.transport.close()  # a second close is as quiet
        assert channel.is_closing  # writes from here on are dropped, as after any close

        # The close ran when the loop ran again: the bytes written before it arrived, cleanly.
        loop.run_until_complete(asyncio.wait_for(channel.wait_closed(), 10))
        assert channel.error is None
        received = loop.run_until_complete(asyncio.wait_for(target.received.get(), 10))
        assert received[1] == 5
        loop.run_until_complete(broker.stop())
        loop.run_until_complete(space.close())
    finally:
        loop.close()
