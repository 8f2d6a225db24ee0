"""Runtime behaviour against a server: tokens, idempotency, retries, refusals, logs.

Scripted conversations go through the SDK's transport seam (tests/mock_transport.py);
what needs a real server — a connection dropped after the write committed, a refused
port — runs against the sandbox on its own thread, or a real socket. The rate schedule
is tested on virtual time (tests/test_rate_schedule.py).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest

from aiofeishu import FeishuConnectionError, NotFoundError, ProjectClient, RequestOptions
from aiofeishu._memory_store import MemoryStore
from aiofeishu._transport import WireReply, WireRequest
from aiofeishu.sandbox import Faults, Sandbox
from tests.mock_transport import (
    PLUGIN_TOKEN_PATH,
    MockTransport,
    Routes,
    json_reply,
    ok,
    plugin_token_reply,
)
from tests.virtual_time import run_virtual

FILTER = "/open_api/p1/work_item/filter"
CREATE = "/open_api/p1/work_item/create"
DELETE = "/open_api/p1/work_item/story/1"
SECRET = "very-secret-plugin-secret"
FILTER_ARGS: dict[str, Any] = {"project_key": "p1", "work_item_type_keys": ["story"]}
TOKEN_REJECTED = json_reply(
    {"err_code": 10022, "err_msg": "Check Token Failed", "err": {"code": 10022}}, 401
)


def client(transport: MockTransport, **options: Any) -> ProjectClient:
    options.setdefault("retry_backoff", (0.01, 0.05))
    return ProjectClient(
        "plugin-1",
        SECRET,
        user_key="u-1",
        base_url="https://project.test",
        transport=transport,
        **options,
    )


def numbered_tokens(routes: Routes, count: int) -> None:
    """Plugin tokens p-0001, p-0002, … one per fetch."""
    for n in range(1, count + 1):
        routes.add("POST", PLUGIN_TOKEN_PATH, plugin_token_reply(f"p-{n:04d}"))


def valid_only(*tokens: str) -> Any:
    """A handler that accepts the given plugin tokens and rejects any other with 10022."""

    def answer(request: WireRequest) -> WireReply:
        if request.headers.get("X-PLUGIN-TOKEN") not in tokens:
            return TOKEN_REJECTED
        return ok(123 if request.path == CREATE else [])

    return answer


# -- tokens ------------------------------------------------------------------------------


async def test_one_token_fetch_for_40_concurrent_cold_calls() -> None:
    async def slow_token(request: WireRequest) -> WireReply:
        await asyncio.sleep(0.05)  # the fetch is in flight while the other calls arrive
        return plugin_token_reply("p-0001")

    routes = Routes()
    routes.add("POST", PLUGIN_TOKEN_PATH, slow_token)
    routes.add("POST", FILTER, ok([]), repeat=True)
    transport = MockTransport(routes, tokens=False)
    async with client(transport) as c:
        pages = await asyncio.gather(*(c.work_items.filter(**FILTER_ARGS) for _ in range(40)))
    assert len(pages) == 40
    assert len(transport.sent("POST", PLUGIN_TOKEN_PATH)) == 1
    assert {s.headers["X-PLUGIN-TOKEN"] for s in transport.sent("POST", FILTER)} == {"p-0001"}


async def test_revoked_token_is_dropped_refetched_once_and_the_calls_retried() -> None:
    routes = Routes()
    numbered_tokens(routes, 2)  # a third fetch would find no route and fail the calls
    routes.add("POST", FILTER, valid_only("p-0002"), repeat=True)
    transport = MockTransport(routes, tokens=False)
    async with client(transport) as c:
        pages = await asyncio.gather(*(c.work_items.filter(**FILTER_ARGS) for _ in range(10)))
    assert [p.err_code for p in pages] == [0] * 10
    assert len(transport.sent("POST", PLUGIN_TOKEN_PATH)) == 2  # one renewal for all ten
    tokens = [s.headers["X-PLUGIN-TOKEN"] for s in transport.sent("POST", FILTER)]
    assert tokens.count("p-0002") == 10 and set(tokens) == {"p-0001", "p-0002"}


def test_a_token_is_renewed_before_it_expires() -> None:
    # An expiry of 1 s: served for 0.9 s (10 % before expiry), then fetched again.
    routes = Routes()
    routes.add("POST", PLUGIN_TOKEN_PATH, plugin_token_reply("p-0001", expire_time=1))
    routes.add("POST", PLUGIN_TOKEN_PATH, plugin_token_reply("p-0002", expire_time=1))
    routes.add("POST", FILTER, ok([]), repeat=True)
    transport = MockTransport(routes, tokens=False)

    async def scenario() -> None:
        store = MemoryStore(clock=asyncio.get_running_loop().time)
        async with client(transport, store=store) as c:
            await c.work_items.filter(**FILTER_ARGS)
            await asyncio.sleep(0.89)
            await c.work_items.filter(**FILTER_ARGS)
            await asyncio.sleep(0.02)
            await c.work_items.filter(**FILTER_ARGS)

    run_virtual(scenario())
    tokens = [s.headers["X-PLUGIN-TOKEN"] for s in transport.sent("POST", FILTER)]
    assert tokens == ["p-0001", "p-0001", "p-0002"]  # never a call with a dying token


# -- idempotency -------------------------------------------------------------------------


async def test_dropped_connection_after_commit_retries_with_same_key_and_creates_once() -> None:
    # A real connection, closed by the sandbox right after it carried out the write.
    async with (
        Sandbox(threaded=True, faults=Faults(drop_after_commit=1.0)) as sb,
        sb.project_client(retry_backoff=(0.01, 0.05)) as c,
    ):
        result = await c.work_items.create(
            project_key=sb.project_key, work_item_type_key="story", name="once"
        )
    first, retry = sb.calls("work_items.create")
    assert first.headers["X-IDEM-UUID"] == retry.headers["X-IDEM-UUID"]
    assert list(sb.state.work_items) == [result.data]


async def test_each_logical_write_gets_a_fresh_key_and_reads_none() -> None:
    transport = MockTransport(lambda request: ok(1 if request.path == CREATE else []))
    async with client(transport) as c:
        await c.work_items.create(project_key="p1", work_item_type_key="story")
        await c.work_items.create(project_key="p1", work_item_type_key="story")
        await c.work_items.create(
            project_key="p1",
            work_item_type_key="story",
            request_options=RequestOptions(idempotency_key="mine-1"),
        )
        await c.work_items.filter(**FILTER_ARGS)
    keys = [s.headers.get("X-IDEM-UUID") for s in transport.calls(CREATE)]
    assert keys[0] and keys[1] and keys[0] != keys[1] and keys[2] == "mine-1"
    assert "X-IDEM-UUID" not in transport.calls(FILTER)[0].headers


# -- failures ----------------------------------------------------------------------------


async def test_connection_refused_is_a_feishu_error() -> None:
    with socket.socket() as listener:  # a port that was just free: nothing listens there
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    async with ProjectClient(
        "p",
        SECRET,
        user_key="u",
        base_url=f"http://127.0.0.1:{port}",
        max_retries=1,
        retry_backoff=(0.01, 0.01),
    ) as c:
        with pytest.raises(FeishuConnectionError) as info:
            await c.users.search(query="x")
    assert "plugin_token" in str(info.value)


async def test_secrets_never_reach_debug_logs_reprs_or_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    routes = Routes()
    numbered_tokens(routes, 2)
    routes.add("POST", FILTER, ok([]))
    routes.add("POST", CREATE, TOKEN_REJECTED)  # p-0001 was revoked meanwhile
    routes.add("POST", CREATE, valid_only("p-0002"))
    not_found = {"err_code": 30005, "err_msg": "WorkItem Not Found", "err": {}}
    routes.add("DELETE", DELETE, json_reply(not_found, 404))
    caplog.set_level(logging.DEBUG, logger="aiofeishu")
    async with client(MockTransport(routes, tokens=False)) as c:
        await c.work_items.filter(**FILTER_ARGS)
        await c.work_items.create(project_key="p1", work_item_type_key="story")
        with pytest.raises(NotFoundError) as info:
            await c.work_items.delete(project_key="p1", work_item_type_key="story", work_item_id=1)
        shown = repr(c) + str(info.value) + repr(info.value) + repr(c._plugin_tokens)
    logs = caplog.text
    assert "plugin_token" in logs and "work_item/create" in logs  # the calls were logged…
    for secret in (SECRET, "p-0001", "p-0002"):
        assert secret not in logs and secret not in shown  # …without the secret or any token
