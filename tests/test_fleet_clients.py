"""ProjectClient / OpenClient on a Redis store, end to end against a sandbox: ``store=`` URLs
and objects, who closes what, Redis down (raise / local), shared user tokens, cancellation."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from aiofeishu import NotFoundError, ProjectClient, UserToken
from aiofeishu.redis import RedisStore, StoreUnavailableError
from aiofeishu.sandbox import Faults, Sandbox
from benchmarks._redis_server import RedisServer, running_redis


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(threaded=True) as sb:
        yield sb


@pytest.fixture
async def admin(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
def namespace() -> str:
    return "c" + secrets.token_hex(6)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


async def filter_once(client: ProjectClient, sb: Sandbox) -> None:
    await client.work_items.filter(project_key=sb.project_key, work_item_type_keys=["story"])


async def connections(admin: aioredis.Redis) -> int:
    return len(await admin.client_list()) - 1  # not counting the admin's own


async def settles_at(admin: aioredis.Redis, expected: int) -> bool:
    for _ in range(100):  # the server notices a closed socket a moment later
        if await connections(admin) == expected:
            return True
        await asyncio.sleep(0.02)
    return False


async def keys_of(admin: aioredis.Redis, namespace: str) -> list[str]:
    return [key.decode() async for key in admin.scan_iter(f"{namespace}:*")]


def dead_url() -> str:
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{s.getsockname()[1]}/0"


# -- store= on both clients -----------------------------------------------------------


async def test_a_url_store_serves_both_clients_and_is_closed_with_them(
    sandbox: Sandbox, redis_server: RedisServer, admin: aioredis.Redis
) -> None:
    before = await connections(admin)
    async with sandbox.project_client(store=redis_server.url) as project:
        await filter_once(project, sandbox)
        assert isinstance(project.store(), RedisStore)
        assert await connections(admin) > before
    for _ in range(2):
        async with sandbox.open_client(store=redis_server.url) as client:
            with pytest.raises(NotFoundError):  # authenticated, then not found
                await client.okr.get_progress_record(progress_id="none")
    # One token for both OpenClients (each with its own RedisStore): cached in Redis.
    assert len(sandbox.calls("auth.tenant_access_token")) == 1
    assert await settles_at(admin, before)  # every store a URL made was closed


async def test_a_store_object_is_left_open_for_its_owner(
    sandbox: Sandbox, redis_server: RedisServer, namespace: str, admin: aioredis.Redis
) -> None:
    async with RedisStore(redis_server.url, namespace=namespace) as store:
        async with sandbox.project_client(store=store) as client:
            await filter_once(client, sandbox)
        assert client.store() is store
        async with sandbox.project_client(store=store) as again:
            await filter_once(again, sandbox)  # the store still works after a client closed
        assert len(sandbox.calls("authen.plugin_token")) == 1
        assert await keys_of(admin, namespace)


async def test_a_client_derived_before_its_first_call_shares_one_store(
    sandbox: Sandbox, redis_server: RedisServer, admin: aioredis.Redis
) -> None:
    before = await connections(admin)
    client = sandbox.project_client(store=redis_server.url)
    derived = client.with_options(timeout=5.0)
    async with client:
        await filter_once(derived, sandbox)
        await filter_once(client, sandbox)
        assert derived.store() is client.store()
        await derived.close()  # closes nothing: the store is the parent's
        await filter_once(client, sandbox)
    assert await settles_at(admin, before)


def test_a_url_that_names_no_store_is_a_configuration_error(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="redis://"):
        ProjectClient("p", "s", store="http://127.0.0.1:6379")


# -- Redis unavailable ------------------------------------------------------------------


async def test_raise_mode_sends_nothing_while_redis_is_down(sandbox: Sandbox) -> None:
    store = RedisStore(dead_url(), on_unavailable="raise", timeout=0.3)
    async with store, sandbox.project_client(store=store) as client:
        with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1"):
            await filter_once(client, sandbox)
    assert sandbox.received == []


async def test_local_mode_limits_per_process_with_one_warning_and_returns_to_redis(
    sandbox: Sandbox, private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(private_redis.url, timeout=0.3, reconnect_interval=0.2)
    caplog.set_level(logging.INFO, logger="aiofeishu")
    async with store, sandbox.project_client(store=store) as client:
        await filter_once(client, sandbox)
        private_redis.stop()
        for _ in range(3):
            await filter_once(client, sandbox)  # limited by this process alone meanwhile
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "limiting calls per process" in warnings[0].getMessage()
        private_redis.start()  # empty: no reservations, no token
        await asyncio.sleep(0.25)
        await filter_once(client, sandbox)
        async with aioredis.from_url(private_redis.url) as fresh:
            assert [key async for key in fresh.scan_iter("aiofeishu:rate:*")]
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    assert len(sandbox.calls("work_items.filter")) == 5
    assert len(sandbox.calls("authen.plugin_token")) == 1  # the token copy served throughout


# -- user tokens ------------------------------------------------------------------------


async def user_token_of(sb: Sandbox) -> UserToken:
    async with sb.project_client() as client:
        data = (
            await client.authen.user_plugin_token(
                code="sandbox-code", grant_type="authorization_code"
            )
        ).data
    return UserToken(data.token, refresh_token=data.refresh_token, expires_in=data.expire_time)


async def test_shared_user_tokens_follow_the_refresh_token_another_process_rotated(
    sandbox: Sandbox, redis_server: RedisServer, namespace: str, admin: aioredis.Redis
) -> None:
    given = await user_token_of(sandbox)
    stores = [
        RedisStore(redis_server.url, namespace=namespace, share_user_tokens=True) for _ in range(2)
    ]
    # Two workers started from the same credentials (each with its own store: two processes).
    clients = [
        ProjectClient(base_url=sandbox.url, user_token=given, store=store) for store in stores
    ]
    try:
        sandbox.server.revoke_tokens()
        await filter_once(clients[0], sandbox)  # rejected, refreshed: the refresh token rotates
        await filter_once(clients[1], sandbox)  # uses the renewed token, no refresh of its own
        sandbox.server.revoke_tokens()
        # The given refresh token was used up: only the one rotated into Redis still works.
        await filter_once(clients[1], sandbox)
    finally:
        for client in clients:
            await client.close()
        for store in stores:
            await store.aclose()
    refreshes = sandbox.calls("authen.refresh_token")
    assert [r.status for r in refreshes] == [200, 200]
    assert given.refresh_token not in str(await keys_of(admin, namespace))


async def test_unshared_user_tokens_stay_with_their_client(
    sandbox: Sandbox, redis_server: RedisServer, namespace: str, admin: aioredis.Redis
) -> None:
    given = await user_token_of(sandbox)
    store = RedisStore(redis_server.url, namespace=namespace)
    async with store, ProjectClient(base_url=sandbox.url, user_token=given, store=store) as client:
        sandbox.server.revoke_tokens()
        await filter_once(client, sandbox)  # refreshed, kept in the client
    assert len(sandbox.calls("authen.refresh_token")) == 1
    assert not [key for key in await keys_of(admin, namespace) if ":token:" in key]


# -- cancellation ------------------------------------------------------------------------


async def test_cancelled_calls_leave_only_the_reservations_of_requests_sent(
    redis_server: RedisServer, namespace: str, admin: aioredis.Redis
) -> None:
    async with Sandbox(threaded=True, faults=Faults(latency=0.4)) as sb:
        stores = [RedisStore(redis_server.url, namespace=namespace) for _ in range(2)]
        clients = [sb.project_client(store=store) for store in stores]
        calls = [
            asyncio.ensure_future(call)
            for client in clients
            for call in [
                *(
                    client.work_items.filter(
                        project_key=sb.project_key, work_item_type_keys=["story"]
                    )
                    for _ in range(20)
                ),
                *(
                    client.measures.get_chart(project_key=sb.project_key, chart_id="c")
                    for _ in range(3)
                ),
            ]
        ]
        # Cancel once 15 filters are out and one measure call holds the lease (0.4 s each).
        while len(sb.calls("work_items.filter")) < 15 or not sb.calls("measures.get_chart"):
            await asyncio.sleep(0.01)
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        for client in clients:
            await client.close()
        for store in stores:
            await store.aclose()
        sent = {name: len(sb.calls(name)) for name in ("work_items.filter", "measures.get_chart")}
    assert sent == {"work_items.filter": 15, "measures.get_chart": 1}
    keys = await keys_of(admin, namespace)
    assert not [key for key in keys if key.endswith((":leases", ":lock"))]
    starts = [key for key in keys if key.endswith(":starts")]
    reserved = sorted([await admin.zcard(key) for key in starts])
    # Only the requests that reached the wire: the token fetch (1), the measure (1), the filters
    # (15); a cancelled call's reservation would make one of them larger. (A set can expire
    # a window after its last start on a slow machine, so one may be gone already.)
    assert reserved and reserved[-1] == 15 and all(n in (1, 15) for n in reserved)
    assert sum(reserved) <= 17
    assert all([await admin.pttl(key) > 0 for key in keys])  # and every one expires
