"""Runtime behaviour against an in-process server: tokens, limits, retries, cancellation, logs."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from aiofeishu import (
    FeishuConnectionError,
    NotFoundError,
    ProjectClient,
    RateLimitError,
    RequestOptions,
    ServerError,
)
from tests.fake_server import FakeFeishu

FILTER = "/open_api/p1/work_item/filter"
CREATE = "/open_api/p1/work_item/create"
SECRET = "very-secret-plugin-secret"


def ideal_finish(n: int, windows: list[tuple[int, float]]) -> float:
    """When the n-th call may start at the earliest without overrunning any window."""
    starts: list[float] = []
    for _ in range(n):
        t = 0.0
        for limit, period in windows:
            if len(starts) >= limit:
                t = max(t, starts[-limit] + period)
        starts.append(t)
    return starts[-1]


def client(fake: FakeFeishu, **kwargs: Any) -> ProjectClient:
    kwargs.setdefault("retry_backoff", (0.01, 0.05))
    return ProjectClient("plugin-1", SECRET, user_key="u-1", base_url=fake.url, **kwargs)


def work_items_handler(fake: FakeFeishu) -> None:
    @fake.on("POST", FILTER)
    async def filter_(request: Any, ctx: dict[str, Any]) -> Any:
        return {
            "data": [],
            "pagination": {"page_num": 1, "page_size": 50, "total": 0},
            "err_code": 0,
            "err_msg": "",
            "err": {},
        }

    @fake.on("POST", CREATE)
    async def create(request: Any, ctx: dict[str, Any]) -> Any:
        new_id = fake.new_id()
        fake.work_items[new_id] = ctx["body"]
        return {"data": new_id, "err_code": 0, "err_msg": "", "err": {}}


async def test_one_token_fetch_for_40_concurrent_cold_calls(fake: FakeFeishu) -> None:
    work_items_handler(fake)
    async with client(fake) as c:
        await asyncio.gather(
            *(
                c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
                for _ in range(40)
            )
        )
    assert fake.token_fetches == 1
    assert len(fake.calls(FILTER)) == 40
    assert {s.headers["X-PLUGIN-TOKEN"] for s in fake.calls(FILTER)} == {"p-0001"}


async def test_token_expiry_is_renewed_before_calls_fail(fake: FakeFeishu) -> None:
    work_items_handler(fake)
    fake.token_ttl = 1  # renewed 10 % before expiry
    async with client(fake) as c:
        for _ in range(6):
            await c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
            await asyncio.sleep(0.25)
    assert fake.token_fetches >= 2
    assert all(s.headers["X-PLUGIN-TOKEN"] != "" for s in fake.calls(FILTER))


async def test_revoked_token_is_dropped_refetched_once_and_the_call_retried(
    fake: FakeFeishu,
) -> None:
    work_items_handler(fake)
    async with client(fake) as c:
        await c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
        fake.revoked.add("p-0001")
        results = await asyncio.gather(
            *(
                c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
                for _ in range(10)
            )
        )
    assert len(results) == 10
    assert fake.token_fetches == 2  # one renewal however many calls saw the rejection


async def test_15_qps_burst_never_overruns_and_is_near_ideal(fake: FakeFeishu) -> None:
    work_items_handler(fake)
    windows = [(15, 0.2)]  # 15 per second, scaled down five times
    fake.limits["*"] = windows
    # Client and server share one event loop here, so the server notes arrivals a few ms
    # late under load; at this 5x scale that noise needs a 5 % margin (2 % at full scale).
    async with client(fake, rate_limits={"qps15_qpm450": windows}, rate_limit_margin=0.05) as c:
        await c.work_items.filter(project_key="p1", work_item_type_keys=["story"])  # warm the token
        await asyncio.sleep(0.25)
        started = time.monotonic()
        await asyncio.gather(
            *(
                c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
                for _ in range(60)
            )
        )
        elapsed = time.monotonic() - started
    assert fake.rejected_429 == 0
    assert fake.max_in_window(FILTER, 0.2) <= 15
    ideal = ideal_finish(60, windows)  # 0.6 s: 15 now, then one batch per window
    assert ideal * 0.97 <= elapsed <= ideal * 1.25 + 0.05, (elapsed, ideal)


async def test_qps_plus_qpm_endpoint_respects_both_windows(fake: FakeFeishu) -> None:
    work_items_handler(fake)
    windows = [(5, 0.05), (20, 0.5)]  # the 15 QPS + 450 QPM shape, scaled down
    fake.limits["*"] = windows
    # 50 ms windows: the default 2 % margin is 1 ms, less than loopback jitter in a shared
    # event loop; 10 % (5 ms) is the same absolute room a 1 s window gets from 0.5 %.
    async with client(fake, rate_limits={"qps15_qpm450": windows}, rate_limit_margin=0.1) as c:
        started = time.monotonic()
        await asyncio.gather(
            *(
                c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
                for _ in range(30)
            )
        )
        elapsed = time.monotonic() - started
    assert fake.rejected_429 == 0
    assert fake.max_in_window(FILTER, 0.05) <= 5
    assert fake.max_in_window(FILTER, 0.5) <= 20
    ideal = ideal_finish(30, windows)
    assert ideal * 0.97 <= elapsed <= ideal * 1.25 + 0.1, (elapsed, ideal)


async def test_dropped_connection_after_commit_retries_with_same_key_and_creates_once(
    fake: FakeFeishu,
) -> None:
    work_items_handler(fake)
    fake.drop_after_commit = 1
    async with client(fake) as c:
        result = await c.work_items.create(
            project_key="p1", work_item_type_key="story", name="once"
        )
    creates = fake.calls(CREATE)
    assert len(creates) == 2
    assert creates[0].headers["X-IDEM-UUID"] == creates[1].headers["X-IDEM-UUID"]
    assert len(fake.work_items) == 1
    assert result.data == next(iter(fake.work_items))


async def test_each_logical_write_gets_a_fresh_key_and_reads_none(fake: FakeFeishu) -> None:
    work_items_handler(fake)
    async with client(fake) as c:
        await c.work_items.create(project_key="p1", work_item_type_key="story")
        await c.work_items.create(project_key="p1", work_item_type_key="story")
        await c.work_items.create(
            project_key="p1",
            work_item_type_key="story",
            request_options=RequestOptions(idempotency_key="mine-1"),
        )
        await c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
    keys = [s.headers.get("X-IDEM-UUID") for s in fake.calls(CREATE)]
    assert keys[0] and keys[1] and keys[0] != keys[1] and keys[2] == "mine-1"
    assert "X-IDEM-UUID" not in fake.calls(FILTER)[0].headers


async def test_rate_limited_calls_are_retried_through_the_limiter(fake: FakeFeishu) -> None:
    work_items_handler(fake)
    fake.limits["*"] = [(2, 0.3)]  # the server is stricter than the client believes
    async with client(fake, retry_backoff=(0.2, 0.4)) as c:
        results = await asyncio.gather(
            *(
                c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
                for _ in range(4)
            )
        )
    assert len(results) == 4
    assert fake.rejected_429 >= 1


async def test_rate_limit_error_after_retries_are_exhausted(fake: FakeFeishu) -> None:
    work_items_handler(fake)
    fake.limits["*"] = [(1, 5.0)]
    async with client(fake, max_retries=1) as c:
        await c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
        with pytest.raises(RateLimitError) as info:
            await c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
    assert info.value.code == 10429 and info.value.status == 429


async def test_server_errors_retry_reads_but_not_writes_without_a_key(fake: FakeFeishu) -> None:
    count = {"n": 0}

    @fake.on("POST", FILTER)
    async def flaky(request: Any, ctx: dict[str, Any]) -> Any:
        count["n"] += 1
        from aiohttp import web

        if count["n"] < 3:
            return web.json_response(
                {
                    "err_code": 50006,
                    "err_msg": "openapi system err, please try again later",
                    "err": {},
                },
                status=500,
            )
        return {"data": [], "err_code": 0, "err_msg": "", "err": {}}

    async with client(fake) as c:
        page = await c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
    assert page.data == [] and count["n"] == 3

    from aiofeishu._open_client import OpenClient

    @fake.on("PATCH", "/open-apis/task/v1/tasks/t1")
    async def fail(request: Any, ctx: dict[str, Any]) -> Any:
        from aiohttp import web

        return web.json_response({"code": 1470603, "msg": "update task failed"}, status=500)

    async with OpenClient("app", "secret", base_url=fake.url, retry_backoff=(0.01, 0.02)) as o:
        with pytest.raises(ServerError):
            await o.task.patch(
                task_id="t1",
                user_id_type="open_id",
                task={"summary": "s"},
                update_fields=["summary"],
            )
    assert (
        len(fake.calls("/open-apis/task/v1/tasks/t1")) == 1
    )  # no idempotency header there: never retried


async def test_cancelled_calls_leak_no_limiter_capacity_or_connections(fake: FakeFeishu) -> None:
    work_items_handler(fake)
    windows = [(5, 0.2)]
    fake.limits["*"] = windows

    @fake.on("POST", "/open_api/p1/work_item/story/query")
    async def slow(request: Any, ctx: dict[str, Any]) -> Any:
        await asyncio.sleep(1)
        return {"data": [], "err_code": 0, "err_msg": "", "err": {}}

    async with client(fake, rate_limits={"qps15_qpm450": windows, "default": windows}) as c:
        tasks = [
            asyncio.ensure_future(
                c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
            )
            for _ in range(20)
        ]
        await asyncio.sleep(0.05)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(
                c.work_items.query(project_key="p1", work_item_type_key="story", work_item_ids=[1]),
                0.1,
            )
        await asyncio.sleep(0.25)  # every window the cancelled calls used has passed
        started = time.monotonic()
        await asyncio.gather(
            *(
                c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
                for _ in range(5)
            )
        )
        assert time.monotonic() - started < 0.15  # full capacity again
        connector = c._transport._session.connector  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)
        assert sum(len(v) for v in connector._acquired_per_host.values()) == 0  # type: ignore[union-attr]
    assert fake.rejected_429 == 0


async def test_connection_refused_is_a_feishu_error(fake: FakeFeishu) -> None:
    url = fake.url
    await fake.stop()
    async with ProjectClient(
        "p", SECRET, user_key="u", base_url=url, max_retries=1, retry_backoff=(0.01, 0.01)
    ) as c:
        with pytest.raises(FeishuConnectionError) as info:
            await c.users.search(query="x")
    assert "plugin_token" in str(info.value)


async def test_secrets_never_reach_debug_logs_reprs_or_errors(
    fake: FakeFeishu, caplog: pytest.LogCaptureFixture
) -> None:
    work_items_handler(fake)
    caplog.set_level(logging.DEBUG, logger="aiofeishu")
    async with client(fake) as c:
        await c.work_items.filter(project_key="p1", work_item_type_keys=["story"])
        fake.revoked.add("p-0001")
        await c.work_items.create(project_key="p1", work_item_type_key="story")
        with pytest.raises(NotFoundError) as info:
            await c.work_items.delete(project_key="p1", work_item_type_key="story", work_item_id=1)
        text = str(info.value) + repr(info.value)
        shown = repr(c) + text + repr(c._plugin_tokens)
    logs = caplog.text
    assert "plugin_token" in logs  # the token fetch was logged…
    for secret in (SECRET, "p-0001", "p-0002"):
        assert secret not in logs and secret not in shown  # …without the secret or any token
