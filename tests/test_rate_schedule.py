"""The rate limiter's schedule through the whole client pipeline, on virtual time.

Every test runs on :class:`tests.virtual_time.VirtualTimeLoop` with the client's store on
the loop's clock and :class:`tests.mock_transport.MockTransport` stamping departures with
it. No wall-clock time passes, so the real vendor windows (15 per second, 450 per minute)
are tested at full size, and the schedule is asserted exactly — the same on a loaded CI
machine as on an idle laptop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from aiofeishu import ProjectClient, RateLimitError
from aiofeishu._memory_store import MemoryStore
from aiofeishu._store import RatePolicy
from aiofeishu._transport import WireReply, WireRequest
from aiofeishu.sandbox._windows import max_in_window
from benchmarks._schedule import ideal_schedule, ideal_starts
from tests.mock_transport import MockTransport, Routes, json_reply, ok
from tests.virtual_time import run_virtual

FILTER = "/open_api/p1/work_item/filter"
QUERY = "/open_api/p1/work_item/story/query"
FILTER_ARGS: dict[str, Any] = {"project_key": "p1", "work_item_type_keys": ["story"]}
QUERY_ARGS: dict[str, Any] = {"project_key": "p1", "work_item_type_key": "story"}
Windows = Sequence[tuple[int, float]]
RATE_LIMITED = json_reply({"err_code": 10429, "err_msg": "API Request Frequency Limit"}, 429)


def client(transport: MockTransport, windows: Windows, **options: Any) -> ProjectClient:
    """A client whose windows (every rate class) run on the current loop's clock."""
    options.setdefault("retry_backoff", (0.2, 0.4))
    return ProjectClient(
        "MII_SCHEDULE",
        "schedule-secret",
        user_key="u1",
        base_url="https://project.test",
        transport=transport,
        store=MemoryStore(clock=asyncio.get_running_loop().time),
        rate_limits={"qps15_qpm450": windows, "default": windows},
        **options,
    )


def padded(windows: Windows, margin: float) -> list[tuple[int, float]]:
    """The windows as the client keeps them: each period stretched by the safety margin."""
    policy = RatePolicy(margin=margin)
    return [(limit, policy.padded(period)) for limit, period in windows]


async def burst(calls: int, windows: Windows, margin: float) -> list[float]:
    """Departure times, from the first, of ``calls`` concurrent cold filter calls."""
    transport = MockTransport(lambda request: ok([]))
    async with client(transport, windows, rate_limit_margin=margin) as c:
        await asyncio.gather(*(c.work_items.filter(**FILTER_ARGS) for _ in range(calls)))
    departures = [seen.at for seen in transport.calls(FILTER)]
    assert len(departures) == calls
    return [t - departures[0] for t in departures]


@pytest.mark.parametrize(
    ("calls", "windows"),
    [
        pytest.param(60, [(15, 1.0)], id="15-qps"),
        # 480 calls cross the 450 cap: the last 30 wait for the minute window.
        pytest.param(480, [(15, 1.0), (450, 60.0)], id="15-qps-450-qpm"),
        pytest.param(30, [(5, 0.05), (20, 0.5)], id="short-windows-margin-floor"),
    ],
)
def test_a_burst_follows_the_ideal_schedule_and_never_overruns(
    calls: int, windows: Windows
) -> None:
    margin = 0.02  # the client's default
    departures = run_virtual(burst(calls, windows, margin))

    for limit, period in windows:
        assert max_in_window(departures, period) <= limit, (limit, period)
    # Greedy is optimal: each call leaves as soon as its windows (as padded) have room.
    assert departures == pytest.approx(ideal_starts(calls, padded(windows, margin)), abs=1e-6)
    assert departures[-1] >= ideal_schedule(calls, windows)


def test_the_default_margin_costs_at_most_three_percent_at_the_vendor_windows() -> None:
    windows = [(15, 1.0)]
    departures = run_virtual(burst(300, windows, 0.02))
    assert ideal_schedule(300, windows) / departures[-1] >= 0.97


def test_cancelled_waiters_take_no_capacity_with_them() -> None:
    async def scenario() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        transport = MockTransport(lambda request: ok([]))
        async with client(transport, [(5, 0.2)]) as c:
            waiting = [asyncio.ensure_future(c.work_items.filter(**FILTER_ARGS)) for _ in range(20)]
            await asyncio.sleep(0.05)  # five have left; fifteen wait for the window
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            await asyncio.sleep(0.2)  # the five departures' window has passed
            started = loop.time()
            await asyncio.gather(*(c.work_items.filter(**FILTER_ARGS) for _ in range(5)))
        return [seen.at for seen in transport.calls(FILTER)], started

    departures, started = run_virtual(scenario())
    first, again = departures[:5], departures[5:]
    assert len(first) == 5 and first == [first[0]] * 5
    assert again == [started] * 5  # full capacity at once: the cancelled took none


def test_a_call_timed_out_while_its_answer_is_slow_is_cancelled_cleanly() -> None:
    async def slow(request: WireRequest) -> WireReply:
        await asyncio.sleep(1.0)
        return ok([])

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        async with client(MockTransport(slow), [(5, 0.2)]) as c:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(c.work_items.query(**QUERY_ARGS, work_item_ids=[1]), 0.1)
            started = loop.time()
            await asyncio.gather(
                *(c.work_items.query(**QUERY_ARGS, work_item_ids=[i]) for i in range(4))
            )
            return loop.time() - started

    # The timed-out call's slot stays spent (it left), four more fit in the window at once.
    assert run_virtual(scenario()) == pytest.approx(1.0)


def test_a_429_cools_the_key_down_and_every_call_still_succeeds() -> None:
    routes = Routes()
    routes.add("POST", FILTER, RATE_LIMITED)
    routes.add("POST", FILTER, RATE_LIMITED)
    routes.add("POST", FILTER, ok([]), repeat=True)
    transport = MockTransport(routes)

    async def scenario() -> list[Any]:
        async with client(transport, [(15, 1.0)], retry_backoff=(0.2, 0.2)) as c:
            return await asyncio.gather(*(c.work_items.filter(**FILTER_ARGS) for _ in range(4)))

    assert [page.err_code for page in run_virtual(scenario())] == [0, 0, 0, 0]
    times = [seen.at for seen in transport.calls(FILTER)]
    assert len(times) == 6  # four calls, two answers of 429
    # A 429 cools the whole key down for at least the backoff's lower bound (0.5 x 0.2 s):
    # nothing leaves meanwhile, neither the retry nor the calls that were waiting.
    first_429, second_429, *rest = times
    assert second_429 - first_429 >= 0.1
    assert all(t - second_429 >= 0.1 for t in rest)


def test_rate_limit_error_once_retries_are_exhausted() -> None:
    transport = MockTransport(lambda request: RATE_LIMITED)

    async def scenario() -> RateLimitError:
        async with client(transport, [(15, 1.0)], max_retries=1) as c:
            with pytest.raises(RateLimitError) as info:
                await c.work_items.filter(**FILTER_ARGS)
        return info.value

    error = run_virtual(scenario())
    assert (error.status, error.code) == (429, 10429)
    assert len(transport.calls(FILTER)) == 2
