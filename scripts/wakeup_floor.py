"""scripts/wakeup_floor.py [--burst N ...] [--mib N] [--json]: what a wake-up alone costs on this
machine, the floor under the daemon's CPU per MiB.

A sender process writes 1100-byte messages over TCP loopback, N per burst, a burst every N ms
(the service's ~1000 messages/s, in the emulator's bursts). The measured process does nothing
but what every wake-up of the daemon must: read what arrived, write a quarter of its size back
(the acks) and write it on to a unix socket (ssh). No parsing, no core, no hashing. Its CPU per
MiB, for a blocking loop and for an asyncio ``Protocol`` (one loop iteration per read), is the
least any Python design with that many wake-ups per MiB can cost here; the daemon's own figure
(``scripts/bench_ssh.py --cpu-only``) is that plus its work. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import time
from collections.abc import Callable

MESSAGE = 1100  # an agent message with its header and websocket framing, about


def _sender(server: socket.socket, burst: int, mib: int) -> None:
    conn, _ = server.accept()
    message = os.urandom(MESSAGE) * burst
    deadline = time.monotonic()
    for _ in range(mib * 1024 // burst):
        conn.sendall(message)
        deadline += burst / 1000
        time.sleep(max(0.0, deadline - time.monotonic()))
        conn.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            conn.recv(1 << 20)  # the "acks": read and dropped
        conn.setblocking(True)
    conn.close()


def _sink(reader: socket.socket, writer: socket.socket) -> None:
    writer.close()  # this child's copy: the reader sees EOF when the measured process closes
    while reader.recv(1 << 20):
        pass


def _fork(target: Callable[..., None], *args: object) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            target(*args)
        finally:
            os._exit(0)
    return pid


def _receive_blocking(conn: socket.socket, sink: socket.socket, ack: bytes) -> None:
    while data := conn.recv(1 << 20):
        conn.send(ack[: len(data) // 4])
        sink.sendall(data)


def _receive_asyncio(conn: socket.socket, sink: socket.socket, ack: bytes) -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        class Receiver(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                assert isinstance(transport, asyncio.Transport)
                self.transport = transport

            def data_received(self, data: bytes) -> None:
                self.transport.write(ack[: len(data) // 4])
                sink.send(data)

            def connection_lost(self, exc: Exception | None) -> None:
                done.set_result(None)

        conn.setblocking(False)
        await loop.connect_accepted_socket(Receiver, conn)
        await done

    asyncio.run(run())


def measure(mode: str, burst: int, mib: int) -> dict[str, float]:
    """CPU seconds per MiB and wake-ups per MiB of the receiving process, one run."""
    server = socket.create_server(("127.0.0.1", 0))
    sender = _fork(_sender, server, burst, mib)
    conn = socket.create_connection(server.getsockname())
    sink_read, sink_write = socket.socketpair()
    sink = _fork(_sink, sink_read, sink_write)
    sink_read.close()
    ack = os.urandom(MESSAGE * burst // 4 + 1)
    before = resource.getrusage(resource.RUSAGE_SELF)
    (_receive_blocking if mode == "blocking" else _receive_asyncio)(conn, sink_write, ack)
    after = resource.getrusage(resource.RUSAGE_SELF)
    sink_write.close()
    conn.close()
    server.close()
    for pid in (sender, sink):
        os.waitpid(pid, 0)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {
        "cpu_s_per_mib": round(cpu / mib, 4),
        "wakeups_per_mib": round((after.ru_nvcsw - before.ru_nvcsw) / mib, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/wakeup_floor.py", description=__doc__)
    parser.add_argument("--burst", type=int, nargs="+", default=[1, 16, 32])
    parser.add_argument("--mib", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.mib < 1 or any(not 1 <= b <= 256 for b in args.burst):
        parser.error("--mib must be ≥ 1 and each --burst in 1-256")
    figures = {
        f"{mode}_burst_{burst}": measure(mode, burst, args.mib)
        for mode in ("blocking", "asyncio")
        for burst in args.burst
    }
    if args.json:
        print(json.dumps(figures))
        return
    for name, values in figures.items():
        print(
            f"{name:20} {values['cpu_s_per_mib']:.4f} CPU s/MiB  {values['wakeups_per_mib']} wake-ups/MiB"
        )


if __name__ == "__main__":
    main()
