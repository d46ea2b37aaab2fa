"""Large transfers through the core pair: byte-exact under loss, duplication, reordering and
websocket reconnects, and within a CPU budget."""

from __future__ import annotations

import random
import time

import pytest

from bridge.ssm.core import CoreConfig

from .ssmcore_link import Faults, Link, Source

MIB = 1 << 20


@pytest.mark.long
def test_64_mib_each_way_through_loss_dup_reorder_and_reconnects() -> None:
    total = 64 * MIB
    reconnects = 10
    config = CoreConfig(rate_limit=None)
    faults = Faults(loss=0.05, dup=0.05, reorder=0.2, latency=0.01, reorder_delay=0.03)
    link = Link.pair(config, fate=faults.fate(random.Random(2026)))
    link.client.keep_data = link.agent.keep_data = False
    up = Source(link.client.core, total, seed=1)
    down = Source(link.agent.core, total, seed=2)
    link.sources += [up, down]

    def done() -> bool:
        return link.agent.received_count >= total and link.client.received_count >= total

    started = time.process_time()
    for i in range(1, reconnects + 1):
        mark = total * i // (reconnects + 1)
        link.run(stop=lambda m=mark: link.agent.received_count >= m or done())
        link.disconnect()
        link.run_for(0.5)  # the redial takes a while; nothing may move meanwhile
        link.reconnect()
    link.run(stop=done)
    cpu = time.process_time() - started
    link.run(
        stop=lambda: link.client.core.all_acknowledged() and link.agent.core.all_acknowledged()
    )

    assert up.done and down.done
    assert link.agent.received_count == total and link.client.received_count == total
    assert link.agent.digest.digest() == up.digest.digest()
    assert link.client.digest.digest() == down.digest.digest()
    for endpoint in (link.client, link.agent):
        stats = endpoint.core.stats
        assert stats.bytes_sent == total and stats.bytes_received == total
        assert stats.retransmissions > 0 and stats.duplicates_received > 0
        assert stats.frames_rejected == 0
        assert endpoint.core.all_acknowledged()
    print(f"64 MiB each way: {cpu:.1f} s CPU (cores + harness), {link.now:.1f} s virtual")
    assert cpu < 60  # generous on a shared 2-core machine; ~10 s when idle


def test_core_pair_cpu_budget_clean_link() -> None:
    total = 16 * MIB
    link = Link.pair(CoreConfig(rate_limit=None))
    link.client.keep_data = link.agent.keep_data = False
    up = Source(link.client.core, total, seed=3)
    down = Source(link.agent.core, total, seed=4)
    link.sources += [up, down]
    started = time.process_time()
    link.run(
        stop=lambda: link.agent.received_count >= total and link.client.received_count >= total
    )
    cpu = time.process_time() - started
    assert link.agent.digest.digest() == up.digest.digest()
    assert link.client.digest.digest() == down.digest.digest()
    # 16 MiB each way is 32768 data messages and as many acks: ~1 s on an idle machine.
    assert cpu < 8
