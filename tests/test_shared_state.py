"""State shared per credential identity: one token and one quota per plugin, on one loop.

Clients acting for the same plugin (one per user, as a bot serving many users makes them)
draw on one token and one rate window through the loop's shared store; clients of another
base URL are another identity; ``with_options`` derives a client sharing everything; a
client stays on the event loop it was first used on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aiofeishu import FeishuError, OpenClient, ProjectClient, ServerError
from aiofeishu.sandbox import Sandbox
from tests.mock_transport import MockTransport, json_reply, ok
from tests.sandbox_timing import margin_for

TIME_SCALE = 2  # 15 calls per 0.5 s: the windows stay exact, the test stays short


async def create(client: ProjectClient, sb: Sandbox, name: str) -> int:
    created = await client.work_items.create(
        project_key=sb.project_key, work_item_type_key="story", name=name
    )
    return int(created.data)


async def create_progress_record(client: OpenClient) -> Any:
    return await client.okr.create_progress_record(
        source_title="t",
        source_url="https://example.com",
        target_id="1",
        target_type=2,
        content={"blocks": []},
    )


def create_window(sb: Sandbox) -> tuple[int, float]:
    ((limit, period),) = sb.rate_limits()["default"]
    return limit, period


async def test_per_user_clients_of_one_plugin_share_one_token_and_one_window() -> None:
    async with Sandbox(threaded=True, time_scale=TIME_SCALE) as sb:
        margin = margin_for(sb)
        clients = [
            sb.project_client(user_key=f"user-{i}", rate_limit_margin=margin) for i in range(3)
        ]
        try:
            ids = await asyncio.gather(
                *(create(c, sb, f"item-{i}-{n}") for i, c in enumerate(clients) for n in range(30))
            )
        finally:
            for client in clients:
                await client.close()
        limit, period = create_window(sb)
        assert len(set(ids)) == 90 and len(sb.state.work_items) == 90
        assert sb.server.rejected_429 == 0
        assert len(sb.calls("authen.plugin_token")) == 1
        assert sb.server.max_in_window("work_items.create", period) <= limit
        users = {r.headers.get("X-USER-KEY") for r in sb.calls("work_items.create")}
        assert users == {"user-0", "user-1", "user-2"}  # each still acts as its own user


async def test_open_clients_of_one_app_share_one_tenant_token() -> None:
    async with Sandbox(threaded=True) as sb:
        clients = [sb.open_client() for _ in range(3)]
        try:
            await asyncio.gather(*(create_progress_record(c) for c in clients))
        finally:
            for client in clients:
                await client.close()
        assert len(sb.calls("auth.tenant_access_token")) == 1


async def test_clients_of_different_base_urls_share_neither_token_nor_window() -> None:
    # Two services with the same plugin id: a token or a quota of one means nothing to
    # the other. A shared window of 2 per 3 s would hold the third and fourth calls back
    # for three seconds; separate ones let all four leave at once.
    period = 3.0
    async with Sandbox(threaded=True, seed=1) as a, Sandbox(threaded=True, seed=2) as b:
        options: dict[str, Any] = {"rate_limits": {"default": ((2, period),)}}
        async with a.project_client(**options) as on_a, b.project_client(**options) as on_b:
            await asyncio.gather(
                *(c.config.list_businesses(project_key=a.project_key) for c in (on_a, on_b) * 2)
            )
        for sb in (a, b):
            assert len(sb.calls("authen.plugin_token")) == 1
            assert [r.status for r in sb.calls("config.list_businesses")] == [200, 200]
        arrivals = [r.at for sb in (a, b) for r in sb.calls("config.list_businesses")]
    assert max(arrivals) - min(arrivals) < period


async def test_with_options_shares_session_tokens_and_windows() -> None:
    async with Sandbox(threaded=True, time_scale=TIME_SCALE) as sb:
        parent = sb.project_client(rate_limit_margin=margin_for(sb))
        derived = parent.with_options(user_key="another-user", timeout=7.5, max_retries=0)
        assert derived.user_key == "another-user" and derived.timeout == 7.5
        assert derived.max_retries == 0
        assert parent.user_key == sb.config.user_key and parent.max_retries == 3
        async with parent:
            ids = await asyncio.gather(
                *(create(c, sb, f"n{i}") for i, c in enumerate([parent, derived] * 25))
            )
            await derived.close()
            assert await create(parent, sb, "after the derived client closed")
        limit, period = create_window(sb)
        assert len(set(ids)) == 50
        assert len(sb.calls("authen.plugin_token")) == 1
        assert sb.server.rejected_429 == 0
        assert sb.server.max_in_window("work_items.create", period) <= limit
        users = [r.headers.get("X-USER-KEY") for r in sb.calls("work_items.create")]
        assert users.count("another-user") == 25


async def test_with_options_sends_through_the_same_transport_with_its_own_options() -> None:
    transport = MockTransport(lambda request: json_reply({"err_code": 50006}, status=500))
    parent = ProjectClient(
        "MII_SHARED", "secret", user_key="u", transport=transport, retry_backoff=(0.001, 0.002)
    )
    derived = parent.with_options(max_retries=0, timeout=4.0, user_key="v")
    async with parent:
        with pytest.raises(ServerError):
            await derived.config.list_businesses(project_key="p")
        assert len(transport.calls()) == 1  # max_retries=0: one attempt
        await derived.close()
        assert not transport.closed
        with pytest.raises(ServerError):
            await parent.config.list_businesses(project_key="p")
        assert len(transport.calls()) == 1 + 4  # the parent's own three retries
    assert transport.token_fetches == 1
    assert not transport.closed  # a transport passed in stays its owner's to close
    first, *rest = transport.calls()
    assert first.headers["X-USER-KEY"] == "v"
    assert {s.headers["X-USER-KEY"] for s in rest} == {"u"}


async def test_a_derived_client_acts_for_itself_even_when_its_parent_groups_were_used() -> None:
    # `client.config` is cached on first use; a derived client copied from a parent that had
    # used it sent the derived client's calls with the parent's user key and retries.
    transport = MockTransport(lambda request: json_reply({"err_code": 50006}, status=500))
    parent = ProjectClient(
        "MII_SHARED", "secret", user_key="u", transport=transport, retry_backoff=(0.001, 0.002)
    )
    assert parent.config is parent.config  # the group is cached on the parent
    derived = parent.with_options(user_key="v", max_retries=0)
    assert derived.config is not parent.config
    async with parent:
        with pytest.raises(ServerError):
            await derived.config.list_businesses(project_key="p")
    assert [s.headers["X-USER-KEY"] for s in transport.calls()] == ["v"]


async def test_with_options_refuses_what_it_cannot_change() -> None:
    client = ProjectClient(
        "MII_SHARED", "secret", user_key="u", transport=MockTransport(lambda r: ok())
    )
    with pytest.raises(FeishuError, match="base_url"):
        client.with_options(base_url="http://elsewhere")
    with pytest.raises(FeishuError, match="max_retries"):
        client.with_options(max_retries=-1)
    await client.close()


def run_on_another_loop(make: Callable[[], Awaitable[Any]]) -> BaseException | None:
    """Run ``make()`` with ``asyncio.run`` (a loop of this thread); return what it raised."""
    try:
        asyncio.run(make())  # type: ignore[arg-type]
    except BaseException as exc:  # handed back to the test
        return exc
    return None


async def test_a_client_used_from_a_second_event_loop_raises_a_clear_error() -> None:
    async with Sandbox(threaded=True) as sb, sb.project_client() as client:
        await client.config.list_businesses(project_key=sb.project_key)
        start = time.monotonic()
        error = await asyncio.to_thread(
            run_on_another_loop, lambda: client.config.list_businesses(project_key=sb.project_key)
        )
        assert isinstance(error, FeishuError) and "event loop" in str(error)
        assert time.monotonic() - start < 30  # refused up front, not after a timeout
        # Nothing was sent from the other loop, and the client still works on its own.
        await client.config.list_businesses(project_key=sb.project_key)
        assert len(sb.calls("config.list_businesses")) == 2


async def test_an_open_client_used_from_a_second_event_loop_raises_a_clear_error() -> None:
    async with Sandbox(threaded=True) as sb, sb.open_client() as client:
        await create_progress_record(client)
        error = await asyncio.to_thread(run_on_another_loop, lambda: create_progress_record(client))
        assert isinstance(error, FeishuError) and "event loop" in str(error)
        assert len(sb.calls("okr.create_progress_record")) == 1


async def test_a_derived_client_used_from_a_second_event_loop_raises_a_clear_error() -> None:
    async with Sandbox(threaded=True) as sb, sb.project_client() as parent:
        derived = parent.with_options(user_key="another-user")
        await parent.config.list_businesses(project_key=sb.project_key)
        error = await asyncio.to_thread(
            run_on_another_loop,
            lambda: asyncio.wait_for(
                derived.config.list_businesses(project_key=sb.project_key), timeout=20
            ),
        )
        assert isinstance(error, FeishuError) and "event loop" in str(error)


async def test_a_derived_client_of_a_closed_parent_refuses_to_send() -> None:
    async with Sandbox(threaded=True) as sb:
        parent = sb.project_client()
        derived = parent.with_options(user_key="another-user")
        await parent.config.list_businesses(project_key=sb.project_key)
        await parent.close()
        try:
            with pytest.raises(FeishuError, match="closed"):
                await derived.config.list_businesses(project_key=sb.project_key)
        finally:
            await derived.close()
            await parent._transport.aclose()  # what the parent should have done for good
