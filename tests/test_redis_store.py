"""RedisStore against a real redis-server: the admission script, leases, cool-downs, tokens,
outages. Windows are short (a few per 0.2 s) and reservations are read back from Redis, so
the checks are exact rather than timed."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from aiofeishu import FeishuError
from aiofeishu._fallback_store import LocalStore
from aiofeishu._reservation import ReservationTicket
from aiofeishu._store import RatePolicy, Store, rate_key, token_key
from aiofeishu.redis import RedisStore, StoreUnavailableError
from benchmarks._redis_server import RedisServer, running_redis

RATE = rate_key("project", "plugin-MII_7S3CR3TISH", "POST /open_api/:project_key/work_item/filter")
TOKEN = token_key("project", "plugin-MII_7S3CR3TISH")
FIVE_PER_200MS = RatePolicy(windows=((5, 0.2),))
PADDED_200MS = 225_000  # µs: 0.2 s + the 25 ms floor (2 % would be only 4 ms)

MakeStore = Callable[..., RedisStore]


def layout(namespace: str, key: str, suffix: str) -> str:
    """A Redis key as the README documents it."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{namespace}:{key.split(':', 1)[0]}:{{{digest}}}:{suffix}"


@pytest.fixture
def namespace() -> str:
    return "t" + secrets.token_hex(6)


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def make_store(redis_server: RedisServer, namespace: str) -> AsyncIterator[MakeStore]:
    stores: list[RedisStore] = []

    def make(**options: Any) -> RedisStore:
        options.setdefault("namespace", namespace)
        options.setdefault("on_unavailable", "raise")
        stores.append(RedisStore(options.pop("url", redis_server.url), **options))
        return stores[-1]

    yield make
    for store in stores:
        await store.aclose()


async def starts_of(client: aioredis.Redis, namespace: str, key: str = RATE) -> list[int]:
    pairs = await client.zrange(layout(namespace, key, "starts"), 0, -1, withscores=True)
    return [int(score) for _, score in pairs]


def expected_starts(starts: list[int], nows: list[int], policy: RatePolicy) -> list[int]:
    """The reservation rule, recomputed from each call's own `now`."""
    windows = [(limit, round(policy.padded(period) * 1e6)) for limit, period in policy.windows]
    out: list[int] = []
    for now in nows:
        start = max([now, *out[-1:]])
        for limit, period in windows:
            if len(out) >= limit:
                start = max(start, out[-limit] + period)
        out.append(start)
    return out


def assert_windows_hold(starts: list[int], policy: RatePolicy) -> None:
    for limit, period in policy.windows:
        padded = round(policy.padded(period) * 1e6)
        for i in range(limit, len(starts)):
            assert starts[i] - starts[i - limit] >= padded, (i, limit, period)


# -- the admission script ---------------------------------------------------------------


async def test_every_window_of_a_policy_holds_at_once(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    policy = RatePolicy(windows=((5, 0.2), (12, 1.0)))  # 15/1 s with 450/60 s, scaled down
    store = make_store()
    answers = [await store.reserve(RATE, policy, f"m{i}", f"l{i}", None) for i in range(14)]
    starts = await starts_of(redis_client, namespace)
    assert [round(a[1] * 1e6) for a in answers if a is not None] == starts
    nows = [round(a[0] * 1e6) for a in answers if a is not None]
    # Each reservation is the earliest the rule allows: exact to the microsecond.
    assert starts == expected_starts(starts, nows, policy)
    assert_windows_hold(starts, policy)
    # 5, 5, 2 (the minute-like window is full at 12), then the 13th one padded period later.
    assert starts[12] - starts[0] == 1_025_000
    assert starts[12] - nows[12] > 900_000


async def test_the_margin_has_an_absolute_floor(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    # 2 % of 1 s is 20 ms, so the 25 ms floor decides; 2 % of 10 s (200 ms) is above it.
    # A 1 s window (not 0.2 s) leaves a stalled CI machine a second for the six calls.
    short_policy, long_policy = RatePolicy(windows=((5, 1.0),)), RatePolicy(windows=((5, 10.0),))
    store = make_store()
    long_key = RATE + "/long"
    for i in range(6):
        await store.reserve(RATE, short_policy, f"a{i}", "-", None)
        await store.reserve(long_key, long_policy, f"b{i}", "-", None)
    short, long = (
        await starts_of(redis_client, namespace),
        await starts_of(redis_client, namespace, long_key),
    )
    assert short[5] - short[0] == 1_025_000  # the floor: 25 ms, not 2 % of 1 s
    assert long[5] - long[0] == 10_200_000  # 2 % of 10 s is more than the floor


async def test_a_cancelled_waiter_gives_its_reservation_back(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    store, policy = make_store(), RatePolicy(windows=((2, 0.2),))
    held = [await store.admit(RATE, policy) for _ in range(2)]
    waiter = asyncio.create_task(store.admit(RATE, policy))
    while len(await starts_of(redis_client, namespace)) < 3:
        await asyncio.sleep(0.005)
    cancelled_start = (await starts_of(redis_client, namespace))[2]
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(await starts_of(redis_client, namespace)) == 2
    # The slot it held is the next one handed out.
    await store.reserve(RATE, policy, "next", "-", None)
    assert (await starts_of(redis_client, namespace))[2] == cancelled_start
    for ticket in held:
        await ticket.release()


async def test_cancelled_and_unsent_calls_leave_nothing_behind(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    store, policy = make_store(), RatePolicy(windows=((2, 0.5),), concurrency=20)
    tasks = [asyncio.create_task(store.admit(RATE, policy)) for _ in range(10)]
    while len(await starts_of(redis_client, namespace)) < 10:
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)  # the two admitted at once return
    waiting = [task for task in tasks if not task.done()]
    for task in waiting:
        task.cancel()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    tickets = [task.result() for task in tasks if task not in waiting]
    tickets += [outcome for outcome in outcomes if isinstance(outcome, ReservationTicket)]
    assert len(tickets) < 10
    assert len(await starts_of(redis_client, namespace)) == len(tickets)
    for ticket in tickets:
        await ticket.release()  # never sent: the slot and the lease go back
    assert await starts_of(redis_client, namespace) == []
    assert await redis_client.zcard(layout(namespace, RATE, "leases")) == 0


class ManualClock:
    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.monotonic() + self.offset


async def test_a_late_departure_keeps_its_place_and_moves_the_later_ones_on(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    # Before: a call leaving late reserved again at the end of the queue, so its place went
    # unused, and a job of whole windows took one window more (92.7 % instead of 97 %).
    policy = RatePolicy(windows=((5, 5.0),))  # padding 0.1 s: more than 50 ms late is late
    store, other = make_store(), make_store()
    on_time, late = await store.admit(RATE, policy), await store.admit(RATE, policy)
    for i in range(5):
        await other.reserve(RATE, policy, f"other{i}", "-", None)
    key = layout(namespace, RATE, "starts")
    before = dict(await redis_client.zrange(key, 0, -1, withscores=True))
    await on_time.depart()
    await asyncio.sleep(0.15)  # the event loop ran something else
    await late.depart()
    after = dict(await redis_client.zrange(key, 0, -1, withscores=True))
    assert late.reservations == 1 and set(after) == set(before)
    moved = {member: after[member] - before[member] for member in before}
    first, second = sorted(before, key=before.__getitem__)[:2]
    assert moved[first] == 0 and moved[second] >= 150_000
    # Every later reservation moved on by as much, so the gaps are those reserved.
    assert {moved[m] for m in before if before[m] > before[second]} == {moved[second]}
    assert_windows_hold(sorted(int(score) for score in after.values()), policy)
    (move,) = store.moves(RATE)
    assert round(move.by * 1e6) == moved[second]
    await on_time.release()
    await late.release()


async def test_a_sleeper_of_another_store_waits_out_a_move(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    # 1 per 0.4 s: padded 0.425 s, late beyond 12.5 ms, moves up to 0.2 s.
    leaving, sleeping, policy = make_store(), make_store(), RatePolicy(windows=((1, 0.4),))
    first = await leaving.admit(RATE, policy)
    await sleeping.admit(RATE + "/other", FIVE_PER_200MS)  # starts its listener
    async with asyncio.timeout(10):
        while (await redis_client.pubsub_numsub(f"{namespace}:cool-downs"))[0][1] < 1:
            await asyncio.sleep(0.005)
    sleeper = asyncio.create_task(sleeping.admit(RATE, policy))  # reserved 425 ms on
    await asyncio.sleep(0.06)  # the first leaves 60 ms late: later ones move on by as much
    await first.depart()
    ticket = await sleeper
    await ticket.depart()
    seconds, micros = await redis_client.time()
    left = seconds * 1_000_000 + micros
    first_at, second_at = await starts_of(redis_client, namespace)
    assert ticket.reservations == 1  # it kept its (moved) place, and waited for it
    assert abs(second_at - first_at - 425_000) <= 1 and left >= second_at  # µs rounding
    await first.release()
    await ticket.release()


async def test_a_second_departure_takes_a_fresh_slot(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    # A window long enough that both departures are in it however late the second one
    # runs on a loaded machine (a 0.2 s window had the first start age out before it).
    store, policy = make_store(), RatePolicy(windows=((2, 60.0),))
    ticket = await store.admit(RATE, policy)
    await ticket.depart()
    await ticket.depart()  # aiohttp sent the request again on a fresh connection
    await ticket.release()
    first, _second = await starts_of(redis_client, namespace)  # two reservations, not one
    reserved = await store.reserve(RATE, policy, "third", "-", None)
    assert reserved is not None
    _, start = reserved
    # The third waits a padded window after the first: two were counted. (In µs, as stored.)
    assert round(start * 1e6) >= first + round(policy.padded(60.0) * 1e6)


async def test_a_cool_down_holds_every_store_and_never_shrinks(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    first, second = make_store(), make_store()
    await first.cool_down(RATE, 0.3)
    cool_end = int(await redis_client.get(layout(namespace, RATE, "cool")))
    await first.cool_down(RATE, 0.05)  # a later, shorter one
    assert int(await redis_client.get(layout(namespace, RATE, "cool"))) == cool_end
    answer = await second.reserve(RATE, FIVE_PER_200MS, "m", "-", None)
    assert answer is not None and 0.2 < answer[1] - answer[0] <= 0.3
    assert (await starts_of(redis_client, namespace))[0] == cool_end
    assert 0 < await redis_client.pttl(layout(namespace, RATE, "cool")) <= 300


async def test_a_sleeper_of_the_store_that_saw_the_429_waits_out_the_cool_down(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    store, policy = make_store(), RatePolicy(windows=((1, 0.2),))
    first = await store.admit(RATE, policy)
    sleeper = asyncio.create_task(store.admit(RATE, policy))  # reserved 225 ms on
    await asyncio.sleep(0.02)
    await store.cool_down(RATE, 0.5)
    cool_end = int(await redis_client.get(layout(namespace, RATE, "cool")))
    ticket = await sleeper
    await ticket.depart()  # its reservation predates the cool-down: it takes a new one
    assert (await starts_of(redis_client, namespace))[-1] >= cool_end
    await first.release()
    await ticket.release()


async def test_a_sleeper_of_another_store_hears_of_the_cool_down(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    seen_429, sleeping, policy = make_store(), make_store(), RatePolicy(windows=((1, 0.2),))
    first = await sleeping.admit(RATE, policy)  # also starts listening for cool-downs
    sleeper = asyncio.create_task(sleeping.admit(RATE, policy))  # reserved 225 ms on
    async with asyncio.timeout(10):  # until it is subscribed
        while (await redis_client.pubsub_numsub(f"{namespace}:cool-downs"))[0][1] < 1:
            await asyncio.sleep(0.005)
    await seen_429.cool_down(RATE, 0.5)
    cool_end = int(await redis_client.get(layout(namespace, RATE, "cool")))
    ticket = await sleeper
    await ticket.depart()
    assert ticket.reservations == 2
    assert (await starts_of(redis_client, namespace))[-1] >= cool_end
    await first.release()
    await ticket.release()


async def test_a_cool_down_drops_the_reservations_inside_it_and_keeps_the_later_ones(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    store, policy = make_store(), RatePolicy(windows=((1, 0.5),))
    for i in range(4):  # starts 0, 525, 1050 and 1575 ms on
        assert await store.reserve(RATE, policy, f"m{i}", "-", None) is not None
    first, *_ = await starts_of(redis_client, namespace)
    await store.cool_down(RATE, 0.75)  # issued within 0.3 s, it ends before 1050 ms
    cool_end = int(await redis_client.get(layout(namespace, RATE, "cool")))
    kept = await redis_client.zrange(layout(namespace, RATE, "starts"), 0, -1)
    # The one at 525 ms would start inside it: dropped, so it neither holds a place nor
    # counts in a window. The first had started; 1050 and 1575 ms are after the end.
    assert kept == [b"m0", b"m2", b"m3"]
    assert (await starts_of(redis_client, namespace))[0] == first
    assert store.cool_until(RATE) == cool_end / 1e6


async def test_calls_queued_behind_a_cool_down_keep_their_places_when_they_start_after_it(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    # Before: every call reserved before a 429 reserved again at the back of the queue, so one
    # 429 in a long queue stalled the fleet for as long as the queue (10-15 s measured).
    store, policy = make_store(), RatePolicy(windows=((1, 0.5),))
    first = await store.admit(RATE, policy)

    async def call() -> ReservationTicket:
        ticket = await store.admit(RATE, policy)
        await ticket.depart()
        return ticket  # type: ignore[return-value]

    sleepers = []
    for count in range(2, 5):  # one at a time, so they queue in order: 525, 1050, 1575 ms on
        sleepers.append(asyncio.create_task(call()))
        async with asyncio.timeout(10):
            while len(await starts_of(redis_client, namespace)) < count:
                await asyncio.sleep(0.005)
    await store.cool_down(RATE, 0.75)  # issued within 0.3 s, it ends before 1050 ms
    tickets = [await sleeper for sleeper in sleepers]
    assert [t.reservations for t in tickets] == [2, 1, 1]
    for ticket in [first, *tickets]:
        await ticket.release()


async def test_clock_offsets_between_processes_change_nothing(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    stores = [make_store(clock=ManualClock(offset)) for offset in (-0.04, 0.0, 0.04)]
    # The long second window keeps every reservation in Redis to be checked.
    policy = RatePolicy(windows=((5, 0.2), (1000, 30.0)))

    async def call(store: RedisStore) -> tuple[int, float]:
        ticket = await store.admit(RATE, policy)
        await ticket.depart()
        await ticket.release()
        assert isinstance(ticket, ReservationTicket)
        return ticket.reservations - 1, ticket.moved

    outcomes = await asyncio.gather(*(call(store) for store in stores for _ in range(8)))
    requeued = sum(count for count, _ in outcomes)
    moved = round(sum(seconds for _, seconds in outcomes) * 1e6)
    starts = await starts_of(redis_client, namespace)
    assert len(starts) == 24
    assert_windows_hold(starts, policy)
    # 24 calls at 5 per padded 0.2 s: the fifth group (of four) starts four padded windows
    # after the first. A caller this busy host woke too late moves the later ones on by its
    # lateness, or (later than 0.1 s) queues again at the end: one fits in the fifth group,
    # each further five cost one more window.
    extra_windows = math.ceil(max(0, requeued - 1) / 5)
    assert starts[-1] - starts[0] < (4 + extra_windows) * PADDED_200MS + moved + 50_000


# -- concurrency leases -----------------------------------------------------------------

HOLDER = """
import asyncio, sys
from aiofeishu._store import RatePolicy
from aiofeishu.redis import RedisStore

async def main():
    store = RedisStore(sys.argv[1], namespace=sys.argv[2], on_unavailable="raise")
    await store.admit(sys.argv[3], RatePolicy(concurrency=1, lease_ttl=float(sys.argv[4])))
    print("held", flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


@pytest.fixture
def lease_holder(redis_server: RedisServer, namespace: str) -> Iterator[subprocess.Popen[str]]:
    """Another process that takes the lease (ttl 0.6 s) and keeps it until killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_server.url, namespace, RATE, "0.6"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.communicate()  # reaps it and closes the pipe


async def test_a_crashed_holder_loses_its_lease_to_expiry(
    make_store: MakeStore, lease_holder: subprocess.Popen[str]
) -> None:
    store, policy = make_store(), RatePolicy(concurrency=1, lease_ttl=0.6)
    await asyncio.sleep(1.0)  # longer than the ttl: the live holder keeps renewing it
    assert await store.reserve(RATE, policy, "m", "mine", None) is None
    lease_holder.kill()  # a crash: no release, no renewal
    ticket = await asyncio.wait_for(store.admit(RATE, policy), timeout=10)
    await ticket.release()


async def test_a_released_lease_passes_to_a_waiter_of_another_store(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    policy = RatePolicy(windows=((10, 0.2),), concurrency=1)
    first, second = make_store(), make_store()
    held = await first.admit(RATE, policy)
    waiter = asyncio.create_task(second.admit(RATE, policy))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    await held.depart()
    await held.release()
    ticket = await asyncio.wait_for(waiter, timeout=5)
    assert await redis_client.zcard(layout(namespace, RATE, "leases")) == 1
    await ticket.release()
    assert await redis_client.zcard(layout(namespace, RATE, "leases")) == 0


# -- tokens -----------------------------------------------------------------------------


async def test_one_token_fetch_serves_every_store(make_store: MakeStore) -> None:
    stores, fetches = [make_store() for _ in range(4)], []

    async def token(store: RedisStore) -> str:
        cached = await store.get_token(TOKEN)
        if cached is not None:
            return cached
        async with store.token_lock(TOKEN):
            cached = await store.get_token(TOKEN)
            if cached is None:
                fetches.append(store)
                await asyncio.sleep(0.05)  # the token endpoint's round trip
                cached = f"t-{len(fetches)}"
                await store.put_token(TOKEN, cached, 7200)
            return cached

    tokens = await asyncio.gather(*(token(store) for store in stores for _ in range(5)))
    assert len(fetches) == 1 and set(tokens) == {"t-1"}


async def test_invalidation_never_drops_a_newer_token(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    store = make_store()
    await store.put_token(TOKEN, "old", 7200)
    await store.put_token(TOKEN, "new", 7200)
    await store.invalidate_token(TOKEN, "old")  # a call rejected with the old token
    assert await store.get_token(TOKEN) == "new"
    # Served 10 % (at most five minutes) less than it lives: renewed before it dies.
    assert 6_890_000 < await redis_client.pttl(layout(namespace, TOKEN, "value")) <= 6_900_000
    await store.invalidate_token(TOKEN, "new")
    assert await store.get_token(TOKEN) is None


async def test_an_expired_lock_holder_does_not_release_the_next_holders_lock(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    slow, fast = make_store(token_lock_ttl=0.2), make_store(token_lock_ttl=5)
    lock_key = layout(namespace, TOKEN, "lock")
    inside, leave = asyncio.Event(), asyncio.Event()

    async def hold_slowly() -> None:
        async with slow.token_lock(TOKEN):
            await asyncio.sleep(0.4)  # its lock expires meanwhile

    async def hold_next() -> None:
        async with fast.token_lock(TOKEN):
            inside.set()
            await leave.wait()

    first = asyncio.create_task(hold_slowly())
    await asyncio.sleep(0.05)
    second = asyncio.create_task(hold_next())
    await inside.wait()
    await first
    assert await redis_client.get(lock_key) is not None  # still the second holder's
    leave.set()
    await second
    assert await redis_client.get(lock_key) is None


# -- keys, secrets, expiry ----------------------------------------------------------------


async def test_keys_expire_and_name_no_identity_or_secret(
    make_store: MakeStore, redis_client: aioredis.Redis, namespace: str
) -> None:
    store, policy = make_store(), RatePolicy(windows=((5, 0.2),), concurrency=2)
    ticket = await store.admit(RATE, policy)
    await ticket.depart()
    await store.cool_down(RATE, 1.0)
    await store.put_token(TOKEN, "t-SECRET-VALUE", 7200)
    async with store.token_lock(TOKEN):
        keys = [key.decode() async for key in redis_client.scan_iter(f"{namespace}:*")]
        assert len(keys) == 5
        for key in keys:
            assert await redis_client.pttl(key) > 0, key
            assert "MII_7S3CR3TISH" not in key and "SECRET" not in key
    await ticket.release()


async def test_repr_and_errors_never_show_the_password() -> None:
    store = RedisStore("redis://:hunter2@127.0.0.1:1/0", on_unavailable="raise", timeout=0.5)
    assert "hunter2" not in repr(store) and "127.0.0.1:1/0" in repr(store)
    with pytest.raises(StoreUnavailableError) as caught:
        await store.admit(RATE, FIVE_PER_200MS)
    assert isinstance(caught.value, FeishuError)
    assert "hunter2" not in str(caught.value) and "hunter2" not in str(caught.value.__cause__)
    await store.aclose()


def test_bad_options_are_configuration_errors() -> None:
    with pytest.raises(FeishuError, match="on_unavailable"):
        RedisStore("redis://127.0.0.1:1/0", on_unavailable="ignore")  # type: ignore[arg-type]
    with pytest.raises(FeishuError, match="redis://"):
        RedisStore("http://127.0.0.1:1/0")


def test_both_stores_satisfy_the_protocol() -> None:
    assert isinstance(RedisStore("redis://127.0.0.1:1/0"), Store)
    assert isinstance(LocalStore(), Store)


def test_importing_aiofeishu_does_not_import_redis() -> None:
    code = "import sys, aiofeishu, aiofeishu._store; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- Redis slow, down, restarted ------------------------------------------------------------


async def test_a_slow_redis_times_out_within_the_bound(
    make_store: MakeStore, redis_client: aioredis.Redis
) -> None:
    store = make_store(timeout=0.3)
    await store.get_token(TOKEN)  # connected
    await redis_client.execute_command("CLIENT", "PAUSE", "3000", "ALL")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await store.admit(RATE, FIVE_PER_200MS)
        assert time.monotonic() - started < 2.5  # well before Redis answers again
    finally:
        await redis_client.execute_command("CLIENT", "UNPAUSE")


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A server of the test's own, to stop and restart."""
    with running_redis() as server:
        yield server


async def test_raise_mode_fails_while_redis_is_down_and_recovers_after_restart(
    make_store: MakeStore, private_redis: RedisServer
) -> None:
    store = make_store(url=private_redis.url, timeout=0.5)
    await (await store.admit(RATE, FIVE_PER_200MS)).release()
    private_redis.stop()
    with pytest.raises(StoreUnavailableError):
        await store.admit(RATE, FIVE_PER_200MS)
    with pytest.raises(StoreUnavailableError):
        await store.get_token(TOKEN)
    private_redis.start()  # same port, empty, without the scripts loaded
    ticket = await store.admit(RATE, FIVE_PER_200MS)
    await ticket.depart()
    await ticket.release()


async def test_local_mode_falls_back_with_one_warning_and_returns_to_redis(
    make_store: MakeStore, private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(
        url=private_redis.url, timeout=0.5, on_unavailable="local", reconnect_interval=0.2
    )
    await store.put_token(TOKEN, "shared", 7200)
    private_redis.stop()
    caplog.set_level(logging.INFO, logger="aiofeishu")
    for _ in range(3):
        ticket = await store.admit(RATE, FIVE_PER_200MS)  # admitted by the local limiter
        await ticket.depart()
        await ticket.release()
    assert await store.get_token(TOKEN) == "shared"  # this process's copy serves on
    await store.invalidate_token(TOKEN, "shared")  # a call rejected it
    assert await store.get_token(TOKEN) is None  # the local cache never saw it
    async with store.token_lock(TOKEN):
        await store.put_token(TOKEN, "local", 7200)
    assert await store.get_token(TOKEN) == "local"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "127.0.0.1" in warnings[0].getMessage()
    private_redis.start()
    await asyncio.sleep(0.25)
    client = aioredis.from_url(private_redis.url)
    try:
        await (await store.admit(RATE, FIVE_PER_200MS)).depart()
        assert await client.zcard(layout(store._namespace, RATE, "starts")) == 1
    finally:
        await client.aclose()
    assert any("reachable again" in r.getMessage() for r in caplog.records)


async def test_a_ticket_admitted_on_redis_finishes_locally_when_redis_goes(
    make_store: MakeStore, private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    store = make_store(url=private_redis.url, timeout=0.5, on_unavailable="local", clock=clock)
    ticket = await store.admit(RATE, FIVE_PER_200MS)
    private_redis.stop()
    clock.offset += 0.05  # late: it must reserve again, and Redis is gone
    await ticket.depart()
    await ticket.release()
    assert [r.levelno for r in caplog.records if r.levelno >= logging.WARNING] == [logging.WARNING]


# -- the in-process twin ------------------------------------------------------------------


async def test_the_local_store_follows_the_same_rule() -> None:
    now = [100.0]
    store, policy = LocalStore(clock=lambda: now[0]), RatePolicy(windows=((5, 0.2), (12, 1.0)))
    answers = []
    for _ in range(14):
        answers.append(await store.reserve(RATE, policy, f"m{len(answers)}", "-", None))
        now[0] += 0.001
    nows = [round(a[0] * 1e6) for a in answers if a is not None]
    starts = [round(a[1] * 1e6) for a in answers if a is not None]
    assert starts == pytest.approx(expected_starts(starts, nows, policy), abs=2)
    await store.cool_down(RATE, 5.0)
    answer = await store.reserve(RATE, FIVE_PER_200MS, "late", "-", None)
    assert answer is not None and answer[1] - answer[0] == pytest.approx(5.0)


async def test_the_local_store_moves_the_later_reservations_of_a_late_departure() -> None:
    now = [100.0]
    store, policy = LocalStore(clock=lambda: now[0]), RatePolicy(windows=((1, 0.2),))
    for i in range(3):  # starts 0, 225 and 450 ms on
        assert await store.reserve(RATE, policy, f"m{i}", "-", None) is not None
    now[0] += 0.1  # m0 leaves 100 ms late
    kept = await store.keep_place(RATE, policy, "m0")
    assert kept is not None and kept[1] is not None
    assert (kept[0], kept[1].by) == (pytest.approx(100.1), pytest.approx(0.1))
    answer = await store.reserve(RATE, policy, "m3", "-", None)
    assert answer is not None and answer[1] == pytest.approx(100.775)  # 450 + 100 + 225 ms
    assert list(store.moves(RATE)) == [kept[1]]
    assert await store.keep_place(RATE, policy, "gone") is None
    now[0] += 0.45  # m1 (moved to 325 ms) would leave 225 ms late: refused (limit 100 ms)
    assert await store.keep_place(RATE, policy, "m1") is None


async def test_the_local_store_drops_the_reservations_inside_a_cool_down() -> None:
    now = [100.0]
    store, policy = LocalStore(clock=lambda: now[0]), RatePolicy(windows=((1, 0.2),))
    starts = []
    for i in range(4):
        answer = await store.reserve(RATE, policy, f"m{i}", "-", None)
        assert answer is not None
        starts.append(answer[1])
    await store.cool_down(RATE, 0.3)
    await store.cool_down(RATE, 0.1)  # shorter: changes nothing
    assert store.cool_until(RATE) == pytest.approx(100.3)
    # m1 (225 ms on) is gone; the next reservation queues after the last kept one
    answer = await store.reserve(RATE, policy, "m4", "-", None)
    assert answer is not None and answer[1] == pytest.approx(starts[3] + policy.padded(0.2))
    assert await store.reserve(RATE, policy, "m5", "m1", None) is not None  # m1 may go again
