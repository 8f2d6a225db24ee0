"""Several processes on one RedisStore at the vendor's real 1 s window: none of them
overruns it, together they keep the ideal schedule."""

from __future__ import annotations

import json
import math
import secrets
import subprocess
import sys

from aiofeishu._store import rate_key
from tests.redis_server import RedisServer

WORKER = """
import asyncio, json, sys, time
from aiofeishu._store import RatePolicy
from aiofeishu.redis import RedisStore

url, namespace, key, calls, workers, offset = sys.argv[1:7]

async def call(store, policy, departures, requeued):
    ticket = await store.admit(key, policy)
    try:
        await ticket.depart()
        departures.append(time.time())
        requeued.append(ticket.reservations - 1)
    finally:
        await ticket.release()

async def main():
    skewed = lambda: time.monotonic() + float(offset)  # this host's clock is off
    store = RedisStore(url, namespace=namespace, on_unavailable="raise", clock=skewed)
    client = store._client
    await client.incr(namespace + ":ready")
    while int(await client.get(namespace + ":ready")) < int(workers):
        await asyncio.sleep(0.005)  # every process starts calling at about the same time
    policy, departures, requeued = RatePolicy(windows=((15, 1.0), (450, 60.0))), [], []
    await asyncio.gather(*(call(store, policy, departures, requeued) for _ in range(int(calls))))
    await client.delete(namespace + ":ready")
    await store.aclose()
    print(json.dumps({"departures": departures, "requeued": sum(requeued)}))

asyncio.run(main())
"""


def test_three_processes_with_skewed_clocks_share_one_quota_at_the_ideal_pace(
    redis_server: RedisServer,
) -> None:
    namespace, key = "fleet" + secrets.token_hex(4), rate_key("project", "MII_A", "POST /x")
    offsets, calls = ("-0.04", "0", "0.04"), 18  # 54 calls: 15, 15, 15 and 9
    workers = len(offsets)
    command = [sys.executable, "-c", WORKER, redis_server.url, namespace, key, str(calls)]
    processes = [
        # Local clocks 40 ms apart change nothing: only Redis's TIME decides.
        subprocess.Popen([*command, str(workers), offset], stdout=subprocess.PIPE, text=True)
        for offset in offsets
    ]
    departures: list[float] = []
    requeued = 0
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        report = json.loads(out)
        departures += report["departures"]
        requeued += report["requeued"]
    departures.sort()
    assert len(departures) == workers * calls
    # As the server counts: never 16 arrivals within one second.
    assert all(b - a >= 1.0 for a, b in zip(departures, departures[15:], strict=False))
    # Ideal: the fourth group of 15 leaves 3 s after the first; the margin costs 2.5 %. A
    # caller the busy host woke too late queues again at the end: the last group has room
    # for 6 of them, each further 15 cost one more window.
    span = departures[-1] - departures[0]
    extra_windows = math.ceil(max(0, requeued - 6) / 15)
    assert 3.0 <= span <= 3.0 * 1.05 + 1.025 * extra_windows, (span, requeued)
