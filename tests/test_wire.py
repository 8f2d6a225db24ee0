"""Wire-level behaviour against real local servers on 127.0.0.1.

What a server sees is what counts here: arrivals stamped by a server on its own thread,
redirect targets that must receive nothing, a proxy that must see the request, and the
in-flight count of the measure endpoints.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aiofeishu import (
    FeishuConnectionError,
    FeishuTimeoutError,
    InvalidResponseError,
    OpenClient,
    ProjectClient,
)
from aiofeishu._memory_store import MemoryStore
from aiofeishu._store import RatePolicy
from aiofeishu.errors import UnexpectedRedirectError
from aiofeishu.open.doc_responses import RESPONSES as OPEN_RESPONSES
from aiofeishu.project.doc_responses import RESPONSES as PROJECT_RESPONSES
from aiofeishu.sandbox._windows import max_in_window
from tests.wire_servers import (
    BUSINESSES_BODY,
    PLUGIN_TOKEN,
    PLUGIN_TOKEN_BODY,
    PLUGIN_TOKEN_PATH,
    TENANT_TOKEN,
    TENANT_TOKEN_BODY,
    TENANT_TOKEN_PATH,
    Arrival,
    RawHTTPServer,
    ThreadedApp,
    json_handler,
    token_answer,
)

PLUGIN_SECRET = "wire-plugin-secret-do-not-leak"
APP_SECRET = "wire-app-secret-do-not-leak"
# Seconds added to every window: a server thread on a busy 2-core host stamps a cold
# connection's first request up to ~90 ms late. The faults tested here overrun by whole
# requests (a re-send lands next to the request it repeats), not by milliseconds.
SERVER_LAG_MARGIN = 0.1


def project_client(base_url: str, **options: Any) -> ProjectClient:
    options.setdefault("user_key", "u-wire")
    return ProjectClient("MII_WIRE", PLUGIN_SECRET, base_url=base_url, **options)


async def list_businesses(client: ProjectClient) -> Any:
    return await client.config.list_businesses(project_key="p")


# -- aiohttp's own re-send passes the limiter (defect 3.2) ------------------------------------


@dataclass
class _CountedTicket:
    inner: Any
    store: CountingStore

    async def depart(self) -> None:
        self.store.departures += 1
        await self.inner.depart()

    async def release(self) -> None:
        await self.inner.release()


@dataclass
class CountingStore:
    """The default in-process store, counting every departure its tickets are told of."""

    inner: MemoryStore = field(default_factory=MemoryStore)
    departures: int = 0

    async def admit(self, key: str, policy: RatePolicy) -> _CountedTicket:
        return _CountedTicket(await self.inner.admit(key, policy), self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _drop_second_request_of_each_connection(arrival: Arrival) -> Any:
    if arrival.target.startswith(PLUGIN_TOKEN_PATH):
        return PLUGIN_TOKEN_BODY
    # The first request of a connection is answered and the connection kept alive; the
    # next one on it is read and then the socket closes unanswered: aiohttp re-sends a GET
    # by itself on a fresh connection, whose first request is answered again.
    return None if arrival.index_on_connection == 1 else BUSINESSES_BODY


async def test_aiohttp_resend_after_a_dropped_keepalive_connection_passes_the_limiter() -> None:
    limit, period, calls = 2, 0.4, 6
    store = CountingStore()
    async with RawHTTPServer(_drop_second_request_of_each_connection) as server:
        client = project_client(
            server.url,
            store=store,
            rate_limits={"default": ((limit, period),)},
            rate_limit_margin=SERVER_LAG_MARGIN / period,
            max_retries=3,  # aiohttp's re-send may land on a pooled connection dropped again
            retry_backoff=(0.01, 0.02),
        )
        endpoint = next(
            e for e in client.endpoints if e.group == "config" and e.name == "list_businesses"
        )
        assert endpoint.method == "GET" and endpoint.rate_limit == "default"
        async with client:
            await asyncio.gather(*(list_businesses(client) for _ in range(calls)))
    api = [a for a in server.arrivals if not a.target.startswith(PLUGIN_TOKEN_PATH)]
    dropped = [a for a in api if a.dropped]
    assert dropped, "the server dropped no kept-alive connection: nothing was tested"
    assert len(api) == calls + len(dropped)  # every call was answered once, after its drops
    assert max_in_window((a.at for a in api), period) <= limit
    # The client told its limiter of exactly as many departures as the server saw arrivals
    # (the token call included): aiohttp's own re-sends among them.
    assert store.departures == len(server.arrivals)


# -- redirects are never followed (defect 3.5) --------------------------------------------


@dataclass
class Recorder:
    """An app recording every request it gets; ``answer`` decides the response."""

    answer: Callable[[web.Request], Any]
    seen: list[str] = field(default_factory=list)  # path and query of every request

    def app(self) -> web.Application:
        answer = json_handler(self.answer)

        async def record(request: web.Request) -> web.StreamResponse:
            self.seen.append(request.path_qs)
            return await answer(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        return app


def _redirecting(location: Callable[[], str], status: int, *, token_too: bool = False) -> Any:
    def answer(request: web.Request) -> Any:
        token = token_answer(request)
        if token is not None and not token_too:
            return token
        return web.Response(status=status, headers={"Location": location()})

    return answer


async def _call_both_methods(client: ProjectClient) -> list[BaseException]:
    results = await asyncio.gather(
        list_businesses(client),
        client.work_items.create(project_key="p", work_item_type_key="story", name="n"),
        return_exceptions=True,
    )
    return [r for r in results if isinstance(r, BaseException)]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_cross_origin_redirect_is_an_error_and_the_other_host_gets_nothing(
    status: int,
) -> None:
    other = Recorder(lambda request: BUSINESSES_BODY)
    async with ThreadedApp(other.app()) as elsewhere:
        target = f"{elsewhere.url}/collect/tokens?from=aiofeishu"
        api = Recorder(_redirecting(lambda: target, status))
        async with ThreadedApp(api.app()) as server, project_client(server.url) as client:
            errors = await _call_both_methods(client)
    assert len(errors) == 2
    for error in errors:
        assert isinstance(error, UnexpectedRedirectError)
        assert isinstance(error, InvalidResponseError)
        assert error.status == status and error.location == elsewhere.url
        for text in (str(error), repr(error), repr(error.args)):
            assert "collect" not in text and "from=aiofeishu" not in text
    assert other.seen == []
    assert api.seen.count(PLUGIN_TOKEN_PATH) == 1 and len(api.seen) == 3  # no retry


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_same_origin_redirect_is_not_followed_either(status: int) -> None:
    holder: dict[str, str] = {}
    api = Recorder(_redirecting(lambda: f"{holder['url']}/open_api/moved?x=1", status))
    async with ThreadedApp(api.app()) as server, project_client(server.url) as client:
        holder["url"] = server.url
        errors = await _call_both_methods(client)
    assert [type(e) for e in errors] == [UnexpectedRedirectError] * 2
    assert all(e.location == server.url for e in errors if isinstance(e, UnexpectedRedirectError))
    assert not any("moved" in path for path in api.seen)


async def test_a_relative_redirect_names_the_servers_own_origin() -> None:
    api = Recorder(_redirecting(lambda: "/open_api/moved", 302))
    async with ThreadedApp(api.app()) as server, project_client(server.url) as client:
        with pytest.raises(UnexpectedRedirectError) as caught:
            await list_businesses(client)
    assert caught.value.location == server.url


def _project_call(url: str) -> tuple[Any, Callable[[Any], Any], str]:
    return project_client(url), list_businesses, PLUGIN_TOKEN_PATH


def _open_call(url: str) -> tuple[Any, Callable[[Any], Any], str]:
    client = OpenClient("cli_wire", APP_SECRET, base_url=url)
    return client, lambda c: c.okr.get_progress_record(progress_id="7041"), TENANT_TOKEN_PATH


@pytest.mark.parametrize("make", [_project_call, _open_call], ids=["project", "open"])
@pytest.mark.parametrize("token_too", [True, False], ids=["token-request", "api-call"])
async def test_a_redirected_call_sends_secrets_nowhere(make: Any, token_too: bool) -> None:
    other = Recorder(lambda request: PLUGIN_TOKEN_BODY)
    async with ThreadedApp(other.app()) as elsewhere:
        api = Recorder(_redirecting(lambda: f"{elsewhere.url}/steal", 307, token_too=token_too))
        async with ThreadedApp(api.app()) as server:
            client, call, token_path = make(server.url)
            async with client:
                with pytest.raises(UnexpectedRedirectError) as caught:
                    await call(client)
    assert other.seen == []
    assert len(api.seen) == (1 if token_too else 2) and api.seen[0] == token_path
    assert caught.value.location == elsewhere.url
    text = f"{caught.value} {caught.value!r} {caught.value.args} {caught.value.__cause__!r}"
    for secret in (PLUGIN_SECRET, APP_SECRET, PLUGIN_TOKEN, TENANT_TOKEN):
        assert secret not in text


# -- proxies -------------------------------------------------------------------------------


def _proxy_answer(arrival: Arrival) -> Any:
    """A forward proxy that answers the API itself (it never connects anywhere)."""
    path = arrival.target.split("://", 1)[-1].partition("/")[2]
    path = "/" + path.partition("?")[0]
    if path == PLUGIN_TOKEN_PATH:
        return PLUGIN_TOKEN_BODY
    if path == TENANT_TOKEN_PATH:
        return TENANT_TOKEN_BODY
    if path.startswith("/open-apis/okr/v1/progress_records/"):
        return OPEN_RESPONSES["okr.get_progress_record"]
    return BUSINESSES_BODY


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there now


async def test_proxy_routes_project_calls_through_the_proxy() -> None:
    async with RawHTTPServer(_proxy_answer) as proxy:
        client = project_client("http://project.feishu.invalid", proxy=proxy.url)
        async with client:
            result = await list_businesses(client)
    assert result.err_code == 0
    targets = [a.target for a in proxy.arrivals]
    assert targets == [
        f"http://project.feishu.invalid{PLUGIN_TOKEN_PATH}",
        "http://project.feishu.invalid/open_api/p/business/all",
    ]
    assert proxy.arrivals[1].headers["x-plugin-token"] == PLUGIN_TOKEN
    assert proxy.arrivals[1].headers["x-user-key"] == "u-wire"


async def test_proxy_routes_open_platform_calls_through_the_proxy() -> None:
    async with RawHTTPServer(_proxy_answer) as proxy:
        client = OpenClient(
            "cli_wire", "app-secret", base_url="http://open.feishu.invalid", proxy=proxy.url
        )
        async with client:
            record = await client.okr.get_progress_record(progress_id="7041")
    assert record.code == 0
    targets = [a.target for a in proxy.arrivals]
    assert targets == [
        f"http://open.feishu.invalid{TENANT_TOKEN_PATH}",
        "http://open.feishu.invalid/open-apis/okr/v1/progress_records/7041",
    ]
    assert proxy.arrivals[1].headers["authorization"] == f"Bearer {TENANT_TOKEN}"
    assert "content-type" not in proxy.arrivals[1].headers  # a GET: no body to describe


async def test_trust_env_takes_the_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("http_proxy", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    unreachable = _closed_port_url()
    async with RawHTTPServer(_proxy_answer) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with project_client(unreachable, max_retries=0) as ignoring_env:
            with pytest.raises(FeishuConnectionError):
                await list_businesses(ignoring_env)
        assert proxy.arrivals == []
        async with project_client(unreachable, trust_env=True) as trusting:
            assert (await list_businesses(trusting)).err_code == 0
        open_client = OpenClient("cli_wire", APP_SECRET, base_url=unreachable, trust_env=True)
        async with open_client:
            assert (await open_client.okr.get_progress_record(progress_id="7041")).code == 0
    assert [a.target for a in proxy.arrivals] == [
        f"{unreachable}{PLUGIN_TOKEN_PATH}",
        f"{unreachable}/open_api/p/business/all",
        f"{unreachable}{TENANT_TOKEN_PATH}",
        f"{unreachable}/open-apis/okr/v1/progress_records/7041",
    ]


# -- a caller's own session keeps departure timing ------------------------------------------


def _slow_app(arrivals: list[float], delay: float) -> web.Application:
    async def answer(request: web.Request) -> Any:
        token = token_answer(request)
        if token is not None:
            return token
        arrivals.append(time.monotonic())
        await asyncio.sleep(delay)
        return BUSINESSES_BODY

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", json_handler(answer))
    return app


async def test_a_callers_own_session_counts_windows_from_departure() -> None:
    limit, period, delay = 2, 0.5, 0.45
    arrivals: list[float] = []
    finished: list[float] = []

    async def timed_call(client: ProjectClient) -> None:
        await list_businesses(client)
        finished.append(time.monotonic())

    async with ThreadedApp(_slow_app(arrivals, delay)) as server, aiohttp.ClientSession() as own:
        client = project_client(
            server.url,
            session=own,
            rate_limits={"default": ((limit, period),)},
            rate_limit_margin=SERVER_LAG_MARGIN / period,
        )
        await asyncio.gather(*(timed_call(client) for _ in range(3)))
        await client.close()
        assert not own.closed  # the caller's session stays the caller's
    first, _, third = sorted(arrivals)
    assert max_in_window(arrivals, period) <= limit
    # The window opened when the first request left (not when it was admitted or finished):
    # the third leaves one period after the first left, long before a period after the
    # first finished (which is where an end-of-request window would put it).
    assert third - first >= period
    assert third < min(finished) + period - 0.1


async def test_a_callers_own_session_counts_every_departure() -> None:
    # Calls one after another against a fast server: each finishes long before its window
    # ends, so only departures recorded on the caller's connector keep the third call back.
    limit, period = 2, 0.4
    arrivals: list[float] = []
    async with ThreadedApp(_slow_app(arrivals, 0.0)) as server, aiohttp.ClientSession() as own:
        client = project_client(
            server.url,
            session=own,
            rate_limits={"default": ((limit, period),)},
            rate_limit_margin=SERVER_LAG_MARGIN / period,
        )
        for _ in range(5):
            await list_businesses(client)
        await client.close()
    assert len(arrivals) == 5
    assert max_in_window(arrivals, period) <= limit


# -- the measure class: one call in flight per token (defect 3.10) ----------------------------


@dataclass
class InFlight:
    """The most requests of each path kind a server had in flight at once."""

    now: dict[str, int] = field(default_factory=dict)
    most: dict[str, int] = field(default_factory=dict)

    def app(self, delay: float) -> web.Application:
        async def answer(request: web.Request) -> Any:
            token = token_answer(request)
            if token is not None:
                return token
            kind = "measure" if "/measure/" in request.path else "other"
            self.now[kind] = self.now.get(kind, 0) + 1
            self.most[kind] = max(self.most.get(kind, 0), self.now[kind])
            try:
                await asyncio.sleep(delay)
            finally:
                self.now[kind] -= 1
            if kind == "measure":
                return PROJECT_RESPONSES["measures.get_chart"]
            return BUSINESSES_BODY

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", json_handler(answer))
        return app


async def test_measure_calls_on_one_token_are_never_in_flight_together() -> None:
    seen = InFlight()
    async with (
        ThreadedApp(seen.app(delay=0.1)) as server,
        project_client(server.url) as first,
        project_client(server.url, user_key="u2") as second,
    ):
        other_user = first.with_options(user_key="u3")
        charts = [
            client.measures.get_chart(project_key="p", chart_id=str(i))
            for i, client in enumerate([first, second, other_user] * 2)
        ]
        others = [list_businesses(first) for _ in range(4)]
        results = await asyncio.gather(*charts, *others)
    assert all(r.err_code == 0 for r in results)
    assert seen.most["measure"] == 1
    assert seen.most["other"] > 1  # a different endpoint is not serialised


# -- cancellation gives aiohttp's connections back ---------------------------------------------


async def test_cancelled_calls_give_their_connections_back() -> None:
    in_flight: list[str] = []

    async def answer(request: web.Request) -> Any:
        token = token_answer(request)
        if token is not None:
            return token
        in_flight.append(request.path)
        await asyncio.sleep(1.0)  # longer than the test waits for it
        return BUSINESSES_BODY

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", json_handler(answer))
    async with ThreadedApp(app) as server, project_client(server.url) as client:
        calls = [asyncio.ensure_future(list_businesses(client)) for _ in range(5)]
        async with asyncio.timeout(30):  # a generous bound: only a broken client hangs
            while len(in_flight) < 5:  # every request is on its own connection, unanswered
                await asyncio.sleep(0.01)
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        connector: Any = client._transport._session.connector  # type: ignore[attr-defined]
        assert sum(len(held) for held in connector._acquired_per_host.values()) == 0
        assert (await list_businesses(client)).err_code == 0  # the client still works


# -- aiohttp's failures become FeishuErrors, with nothing chained -------------------------------


def _drop_every_api_request(arrival: Arrival) -> Any:
    if arrival.target.startswith(PLUGIN_TOKEN_PATH):
        return PLUGIN_TOKEN_BODY
    return None  # close the connection without answering


async def test_a_dropped_connection_is_a_connection_error_without_aiohttps_exception() -> None:
    async with RawHTTPServer(_drop_every_api_request) as server:
        client = project_client(server.url, max_retries=1, retry_backoff=(0.01, 0.02))
        async with client:
            with pytest.raises(FeishuConnectionError) as caught:
                await client.work_items.create(project_key="p", work_item_type_key="story")
    error = caught.value
    assert not isinstance(error, FeishuTimeoutError)
    # An aiohttp exception's request_info carries the request's headers: never chained.
    assert error.__cause__ is None and error.__context__ is None
    assert "ServerDisconnectedError" in str(error) and "work_item/create" in str(error)
    assert len([a for a in server.arrivals if a.dropped]) == 2  # retried once, with its key


async def test_no_answer_within_the_timeout_is_a_timeout_error() -> None:
    async def answer(request: web.Request) -> Any:
        token = token_answer(request)
        if token is None:
            await asyncio.sleep(1.0)
        return token or BUSINESSES_BODY

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", json_handler(answer))
    async with ThreadedApp(app) as server:
        client = project_client(server.url, timeout=0.2, max_retries=0)
        async with client:
            with pytest.raises(FeishuTimeoutError) as caught:
                await list_businesses(client)
    error = caught.value
    assert isinstance(error, FeishuConnectionError)
    assert error.__cause__ is None and error.__context__ is None
    assert "0.2s" in str(error)
