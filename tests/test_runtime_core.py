"""Regression tests of the runtime core (issue 9): one per defect, and the public contract.

Everything here fakes the SDK at its own transport seam (tests/mock_transport.py).
"""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiofeishu import (
    APIError,
    AuthenticationError,
    FeishuConnectionError,
    FeishuError,
    InvalidResponseError,
    OpenClient,
    PermissionDeniedError,
    ProjectClient,
    RateLimitError,
    RequestOptions,
    RequestValidationError,
    ServerError,
)
from aiofeishu._ratelimit import SlidingWindowLimiter
from aiofeishu._store import RatePolicy
from aiofeishu._transport import WireReply, WireRequest
from aiofeishu.errors import ConfigurationError
from tests.mock_transport import MockTransport, json_reply, ok

BASE = "https://project.test"
OKR_EXAMPLE = json.loads(
    (
        Path(__file__).parents[1] / "specs/examples/open-platform/okr-progress-record-get.json"
    ).read_text()
)["examples"][0]["json"]


def project(transport: MockTransport, **options: Any) -> ProjectClient:
    options.setdefault("retry_backoff", (0.001, 0.002))
    return ProjectClient(
        "MII_TEST", "SEKRET-plugin", user_key="u1", base_url=BASE, transport=transport, **options
    )


def open_client(transport: MockTransport, **options: Any) -> OpenClient:
    options.setdefault("retry_backoff", (0.001, 0.002))
    return OpenClient(
        "cli_test", "SEKRET-app", base_url="https://open.test", transport=transport, **options
    )


QUERY = {"project_key": "p1", "work_item_type_key": "story", "work_item_ids": [1]}


# -- 3.1: unreadable files are refused before admission; later failures release the slot --
async def test_unreadable_upload_is_refused_unsent_and_takes_no_slot(tmp_path: Path) -> None:
    transport = MockTransport(lambda r: ok({"uuid": "x"}))
    target = {"project_key": "p1", "work_item_type_key": "story", "work_item_id": 1}
    async with project(transport) as c:
        for bad in (tmp_path / "missing.bin", tmp_path):
            for _ in range(20):
                with pytest.raises(RequestValidationError) as info:
                    await c.attachments.upload(**target, file=bad)
                assert info.value.field_path == "$.file"
        assert transport.calls() == []
        good = tmp_path / "ok.txt"
        good.write_bytes(b"hello")
        await asyncio.wait_for(c.attachments.upload(**target, file=good), 5)
    assert len(transport.calls("file/upload")) == 1


class _RefusingTransport(MockTransport):
    """Fails before the request reaches the wire (depart is never called)."""

    async def send(self, request: WireRequest, depart: Any) -> WireReply:
        if "/query" in request.path:
            raise FeishuConnectionError("connection refused")
        return await super().send(request, depart)


async def test_a_call_that_never_left_gives_its_slot_back() -> None:
    transport = _RefusingTransport(lambda r: ok([]))
    async with project(transport, max_retries=0, rate_limits={"default": ((1, 30.0),)}) as c:
        for _ in range(3):  # one slot per 30 s: only given-back slots let these through
            with pytest.raises(FeishuConnectionError):
                await asyncio.wait_for(c.work_items.query(**QUERY), 5)


# -- 3.3: nothing raw escapes ------------------------------------------------------------
@pytest.mark.parametrize("code", ["abc", 1.5, True, {"x": 1}, [1]])
async def test_non_integer_error_codes_are_feishu_errors(code: Any) -> None:
    transport = MockTransport(lambda r: json_reply({"err_code": code, "err_msg": "?"}))
    async with project(transport, max_retries=0) as c:
        with pytest.raises(FeishuError):
            await c.work_items.query(**QUERY)


async def test_non_integer_code_on_the_token_endpoints_is_a_feishu_error() -> None:
    transport = MockTransport(
        lambda r: json_reply({"error": {"code": "nope", "msg": "x"}, "data": None}), tokens=False
    )
    async with project(transport, max_retries=0) as c:
        with pytest.raises(FeishuError):
            await c.work_items.query(**QUERY)
    transport = MockTransport(lambda r: json_reply({"code": "zz", "msg": "x"}), tokens=False)
    async with open_client(transport, max_retries=0) as o:
        with pytest.raises(FeishuError):
            await o.okr.get_progress_record(progress_id="1")


async def test_deeply_nested_json_is_an_invalid_response() -> None:
    transport = MockTransport(lambda r: json_reply(b"[" * 100_000 + b"]" * 100_000))
    async with project(transport, max_retries=0) as c:
        with pytest.raises(InvalidResponseError):
            await c.work_items.query(**QUERY)


async def test_a_download_answered_with_json_is_the_file_or_the_error() -> None:
    args = {"project_key": "p1", "work_item_type_key": "story", "work_item_id": 1, "uuid": "f"}
    success = b'{"err_code": 0, "data": {"name": "a.json"}}'
    transport = MockTransport(lambda r: json_reply(success))
    async with project(transport) as c:
        assert await c.attachments.download(**args).read() == success
    transport = MockTransport(lambda r: json_reply({"err_code": 30005, "err_msg": "not found"}))
    async with project(transport) as c:
        with pytest.raises(APIError) as info:
            await c.attachments.download(**args).read()
    assert info.value.code == 30005


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("compositive_search", {"query_type": "workitem", "query": "x"}),
        (
            "list_man_hour_records",
            {"project_key": "p1", "work_item_type_key": "story", "work_item_id": 1},
        ),
    ],
)
async def test_iterating_without_page_size(method: str, args: dict[str, Any]) -> None:
    pages = iter([[{"id": 1}, {"id": 2}], []])
    transport = MockTransport(lambda r: ok(next(pages), pagination={"total": 2}))
    async with project(transport) as c:
        items = [item async for item in getattr(c.work_items, method)(**args)]
    assert len(items) == 2


async def test_subtask_search_without_page_size() -> None:
    pages = iter([[{"work_item_id": 1}], []])
    transport = MockTransport(lambda r: ok(next(pages), pagination={"total": 5}))
    async with project(transport) as c:
        found = [s async for s in c.subtasks.search(project_keys=["p1"])]
    assert len(found) == 1


async def test_a_malformed_rich_text_block_raises_a_feishu_error_on_read() -> None:
    body = json.loads(json.dumps(OKR_EXAMPLE))
    body["data"]["content"]["blocks"][0]["paragraph"] = "not an object"
    transport = MockTransport(lambda r: json_reply(body))
    async with open_client(transport) as o:
        record = await o.okr.get_progress_record(progress_id="1")
        block = record.data.content.blocks[0]
        with pytest.raises(InvalidResponseError):
            _ = block.paragraph


@pytest.mark.parametrize("member", [b'"\xff\xfe"', b"1e400"])
async def test_raw_json_of_members_the_typed_decode_skipped(member: bytes) -> None:
    body = b'{"err_code": 0, "data": [], "odd": ' + member + b"}"
    transport = MockTransport(lambda r: json_reply(body))
    async with project(transport) as c:
        result = await c.work_items.query(**QUERY)  # the typed decode skips "odd"
    assert result.data == []
    with pytest.raises(InvalidResponseError):
        result.raw_json()


@pytest.mark.parametrize(
    "options",
    [
        {"user_key": "a\r\nX-Evil: 1"},
        {"timeout": "3"},
        {"max_retries": -1},
        {"no_such_option": 1},
        "not options",
    ],
)
async def test_wrong_request_options_are_configuration_errors(options: Any) -> None:
    transport = MockTransport(lambda r: ok([]))
    async with project(transport) as c:
        with pytest.raises(ConfigurationError):
            await c.work_items.query(**QUERY, request_options=options)
    assert transport.calls() == []


async def test_request_options_as_a_mapping() -> None:
    transport = MockTransport(lambda r: ok([]))
    async with project(transport) as c:
        await c.work_items.query(**QUERY, request_options={"user_key": "u2"})  # type: ignore[arg-type]
    assert transport.calls()[0].headers["X-USER-KEY"] == "u2"


# -- 3.4: server-requested waits are capped -----------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{"Retry-After": "86400"}, {"Retry-After": "inf"}, {"x-ogw-ratelimit-reset": "1e9"}],
)
async def test_long_server_waits_raise_rate_limit_error_at_once(headers: dict[str, str]) -> None:
    transport = MockTransport(
        lambda r: json_reply({"err_code": 10429, "err_msg": "limit"}, 429, headers)
    )
    async with project(transport) as c:
        with pytest.raises(RateLimitError) as info:
            await asyncio.wait_for(c.work_items.query(**QUERY), 10)
    assert info.value.retry_after is not None and info.value.retry_after > 60
    assert len(transport.calls()) == 1


async def test_a_short_server_wait_is_honoured_and_retried() -> None:
    replies = iter([json_reply({"err_code": 10429}, 429, {"Retry-After": "0.05"}), ok([{"id": 1}])])
    transport = MockTransport(lambda r: next(replies))
    async with project(transport) as c:
        result = await c.work_items.query(**QUERY)
    assert result.data is not None and len(result.data) == 1


# -- 3.6: dot segments cannot change the route -------------------------------------------
@pytest.mark.parametrize("value", [".", ".."])
async def test_dot_segments_in_path_parameters_are_refused(value: str) -> None:
    transport = MockTransport(lambda r: ok(1))
    async with project(transport) as c:
        with pytest.raises(RequestValidationError) as info:
            await c.work_items.create(project_key=value, work_item_type_key="story", name="x")
    assert info.value.field_path == "$.project_key"
    assert transport.calls() == []


async def test_slashes_in_path_parameters_are_encoded() -> None:
    transport = MockTransport(lambda r: ok(1))
    async with project(transport) as c:
        await c.work_items.create(project_key="a/../b", work_item_type_key="story", name="x")
    assert transport.calls()[0].path == "/open_api/a%2F..%2Fb/work_item/create"


# -- 3.7: null envelope members ------------------------------------------------------------
async def test_null_err_code_with_valid_data_decodes() -> None:
    transport = MockTransport(
        lambda r: json_reply({"err_code": None, "err_msg": None, "err": None, "data": [{"id": 7}]})
    )
    async with project(transport) as c:
        result = await c.work_items.query(**QUERY)
    assert result.data is not None and result.data[0].id == 7


# -- 3.8: writes that may have committed carry their idempotency key ---------------------
async def test_a_ghost_write_carries_its_idempotency_key() -> None:
    keys: list[str] = []

    def handler(request: WireRequest) -> WireReply:
        keys.append(request.headers["X-IDEM-UUID"])
        if len(keys) == 1:
            raise FeishuConnectionError("dropped after commit")
        return json_reply({"err_code": 50006, "err_msg": "busy"}, 500)

    transport = MockTransport(handler)
    args = {"project_key": "p1", "work_item_type_key": "story", "name": "x"}
    async with project(transport, max_retries=2) as c:
        with pytest.raises(ServerError) as info:
            await c.work_items.create(**args)
        key = info.value.idempotency_key
        assert key is not None and keys == [key] * 3
        transport.handler = lambda r: ok(99)
        again = await c.work_items.create(
            **args, request_options=RequestOptions(idempotency_key=key)
        )
    assert again.data == 99 and keys[-1] == key
    assert transport.calls()[-1].headers["X-IDEM-UUID"] == key


# -- 3.9: values JSON would carry wrongly; pages that never end --------------------------
@pytest.mark.parametrize(
    "args",
    [
        {"name": b"abc"},
        {"name": "x", "template_id": 2**63},
        {"name": "x", "field_value_pairs": [{"field_key": "k", "field_value": b"raw"}]},
        {"name": "x", "field_value_pairs": [{"field_key": "k", "field_value": float("nan")}]},
    ],
)
async def test_values_json_would_carry_wrongly_are_refused(args: dict[str, Any]) -> None:
    transport = MockTransport(lambda r: ok(1))
    async with project(transport) as c:
        with pytest.raises(RequestValidationError):
            await c.work_items.create(project_key="p1", work_item_type_key="story", **args)
    assert transport.calls() == []


async def test_a_repeated_cursor_stops_with_an_error() -> None:
    transport = MockTransport(
        lambda r: ok(
            {"op_records": [{"op_record_id": "1"}], "start_from": "same", "has_more": True}
        )
    )
    async with project(transport) as c:
        with pytest.raises(InvalidResponseError, match="cursor"):
            async for _ in c.work_items.list_op_records(project_key="p1", work_item_ids=[1]):
                pass
    assert len(transport.calls()) == 2


async def test_list_group_members_honours_has_more() -> None:
    page = {"list": [{"id": "g"}] * 100, "pagination": {"has_more": False}}
    transport = MockTransport(lambda r: ok(page))
    async with project(transport) as c:
        members = [
            m
            async for m in c.users.list_group_members(project_key="p1", user_group_type="CUSTOMIZE")
        ]
    assert len(members) == 100 and len(transport.calls()) == 1


# -- 3.10: measures are limited by concurrency -------------------------------------------
async def test_measure_calls_are_never_in_flight_together() -> None:
    in_flight, most = 0, 0

    async def handler(request: WireRequest) -> WireReply:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return ok({})

    transport = MockTransport(handler)
    async with project(transport) as c:
        await asyncio.gather(
            *(c.measures.get_chart(project_key="p1", chart_id="c") for _ in range(6))
        )
    assert most == 1


# -- 3.11: the margin has an absolute floor ------------------------------------------------
def test_the_margin_floor_stretches_short_windows() -> None:
    policy = RatePolicy(windows=((15, 1.0),), margin=0.02)
    assert policy.padded(1.0) == pytest.approx(1.025)
    assert policy.padded(0.1) == pytest.approx(0.125)
    assert policy.padded(60.0) == pytest.approx(61.2)


async def test_the_limiter_applies_the_floor_on_its_clock() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(
        [(2, 0.1)], margin=0.02, margin_floor=0.025, clock=lambda: now[0]
    )
    for _ in range(2):
        (await limiter.acquire()).mark_sent()
    assert limiter.windows == [(2, pytest.approx(0.125))]


# -- public contract -----------------------------------------------------------------------
async def test_with_options_shares_tokens_and_windows_and_closes_nothing() -> None:
    transport = MockTransport(lambda r: ok([]))
    async with project(transport) as parent:
        child = parent.with_options(user_key="u2", timeout=5.0, max_retries=0)
        async with child:
            await child.work_items.query(**QUERY)
        await parent.work_items.query(**QUERY)
        assert child.options.timeout == 5.0 and parent.options.timeout == 30.0
    assert transport.token_fetches == 1
    assert [s.headers["X-USER-KEY"] for s in transport.calls()] == ["u2", "u1"]
    with pytest.raises(ConfigurationError):
        parent.with_options(plugin_secret="x")


async def test_two_clients_of_one_plugin_share_one_token() -> None:
    transport = MockTransport(lambda r: ok([]))
    a, b = project(transport), project(transport)
    await asyncio.gather(*(c.work_items.query(**QUERY) for c in (a, b) for _ in range(5)))
    assert transport.token_fetches == 1
    await a.close()
    await b.close()


async def test_request_reaches_any_endpoint_through_the_pipeline() -> None:
    transport = MockTransport(lambda r: ok({"anything": [1, 2]}))
    async with project(transport) as c:
        body = await c.request(
            "POST",
            "/open_api/:project_key/brand_new/:id",
            path_params={"project_key": "p1", "id": 42},
            params={"flag": True},
            json={"a": 1},
        )
    assert body["data"] == {"anything": [1, 2]}
    seen = transport.calls()[0]
    assert seen.path == "/open_api/p1/brand_new/42" and seen.query == {"flag": "true"}
    assert seen.body == {"a": 1} and "X-IDEM-UUID" in seen.headers
    assert seen.headers["X-PLUGIN-TOKEN"] == transport.token


async def test_request_maps_errors_and_reuses_the_idempotency_key() -> None:
    replies = iter([json_reply({"err_code": 50006}, 500), json_reply({"err_code": 10001}, 403)])
    transport = MockTransport(lambda r: next(replies))
    async with project(transport) as c:
        with pytest.raises(PermissionDeniedError):
            await c.request("POST", "/open_api/x", json={}, writes=True)
    keys = {s.headers["X-IDEM-UUID"] for s in transport.calls()}
    assert len(keys) == 1


async def test_request_refuses_dot_segments_and_urls() -> None:
    transport = MockTransport(lambda r: ok())
    async with project(transport) as c:
        with pytest.raises(RequestValidationError):
            await c.request("GET", "/open_api/:k", path_params={"k": ".."})
        with pytest.raises(RequestValidationError):
            await c.request("GET", "https://elsewhere.test/open_api/x")
    assert transport.calls() == []


async def test_extras_reach_the_wire_and_known_fields_stay_strict() -> None:
    transport = MockTransport(lambda r: ok([]))
    extras = RequestOptions(
        extra_body={"new_switch": True}, extra_query={"beta": 1}, extra_headers={"X-Trace": "t"}
    )
    async with project(transport) as c:
        await c.work_items.query(**QUERY, request_options=extras)
        with pytest.raises(RequestValidationError):
            await c.work_items.query(
                **QUERY, request_options=RequestOptions(extra_body={"work_item_ids": [2]})
            )
        with pytest.raises(RequestValidationError):
            await c.work_items.query(
                **QUERY, request_options=RequestOptions(extra_headers={"X-PLUGIN-TOKEN": "x"})
            )
    seen = transport.calls()
    assert len(seen) == 1
    assert seen[0].body["new_switch"] is True and seen[0].query == {"beta": "1"}
    assert seen[0].headers["X-Trace"] == "t"


async def test_results_carry_the_log_id() -> None:
    transport = MockTransport(
        lambda r: json_reply({"err_code": 0, "data": []}, 200, {"X-Tt-Logid": "L1"})
    )
    async with project(transport) as c:
        result = await c.work_items.query(**QUERY)
    assert result.log_id == "L1"


async def test_results_encode_with_plain_msgspec_unknown_blocks_included() -> None:
    body = json.loads(json.dumps(OKR_EXAMPLE))
    unknown = {"type": "hologram", "hologram": {"depth": 3}}
    body["data"]["content"]["blocks"].append(unknown)
    transport = MockTransport(lambda r: json_reply(body))
    async with open_client(transport) as o:
        record = await o.okr.get_progress_record(progress_id="1")
    encoded = msgspec.json.decode(msgspec.json.encode(record))
    assert encoded["data"]["content"]["blocks"][-1] == unknown
    assert msgspec.to_builtins(record.data)["content"]["blocks"][-1] == unknown
    assert pickle.loads(pickle.dumps(record.data.content.blocks[-1])) == unknown


async def test_a_fetched_okr_content_is_accepted_by_create() -> None:
    replies = iter([json_reply(OKR_EXAMPLE), json_reply({"code": 0, "data": {"progress_id": "2"}})])
    transport = MockTransport(lambda r: next(replies))
    async with open_client(transport) as o:
        record = await o.okr.get_progress_record(progress_id="1")
        assert record.data is not None and record.data.content is not None
        await o.okr.create_progress_record(
            source_title="t",
            source_url="https://x.test",
            target_id="1",
            target_type=2,
            content=record.data.content,
        )
    sent = transport.calls()[-1].body
    assert sent["content"] == OKR_EXAMPLE["data"]["content"]


def test_errors_pickle_with_their_attributes() -> None:
    errors: list[FeishuError] = [
        PermissionDeniedError(
            status=403, code=10001, msg="no", log_id="L", method="POST", path="/x", hints=("h",)
        ),
        RequestValidationError("POST /x", "bad", "$.a", method_name="work_items.query"),
        InvalidResponseError("odd", status=502, excerpt="<html>", method="GET", path="/y"),
        FeishuConnectionError("reset"),
    ]
    errors[0].idempotency_key = "k"
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert copy.__dict__ == error.__dict__


async def test_an_error_shows_one_hint() -> None:
    transport = MockTransport(lambda r: json_reply({"err_code": 10001, "err_msg": "No Permission"}))
    async with project(transport) as c:
        with pytest.raises(PermissionDeniedError) as info:
            await c.work_items.query(**QUERY)
    assert str(info.value).count("—") == 1 and len(info.value.hints) > 1


async def test_app_secret_invalid_is_an_authentication_error() -> None:
    transport = MockTransport(
        lambda r: json_reply({"code": 10014, "msg": "app secret invalid"}), tokens=False
    )
    async with open_client(transport) as o:
        with pytest.raises(AuthenticationError):
            await o.okr.get_progress_record(progress_id="1")


async def test_a_validation_error_names_the_method() -> None:
    async with project(MockTransport(lambda r: ok())) as c:
        with pytest.raises(RequestValidationError, match=r"work_items\.query") as info:
            await c.work_items.query(
                project_key="p1", work_item_type_key="story", work_item_ids="1"
            )  # type: ignore[arg-type]
    assert info.value.method_name == "work_items.query"


async def test_a_client_used_from_a_second_loop_is_a_clear_error() -> None:
    transport = MockTransport(lambda r: ok([]))
    c = project(transport)
    await c.work_items.query(**QUERY)
    caught: list[BaseException] = []

    def elsewhere() -> None:
        try:
            asyncio.run(c.work_items.query(**QUERY))
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    await c.close()
    assert len(caught) == 1 and isinstance(caught[0], FeishuError)
    assert "event loop" in str(caught[0])


async def test_proxy_and_transport_are_exclusive() -> None:
    with pytest.raises(ConfigurationError):
        ProjectClient(
            "MII_x", "s", user_key="u", transport=MockTransport(lambda r: ok()), proxy="http://p:1"
        )
    client = ProjectClient("MII_x", "s", user_key="u", proxy="http://user:pw@proxy.test:3128")
    assert "pw" not in repr(client._transport)
    await client.close()


async def test_a_page_that_comes_back_again_stops_without_size_or_total() -> None:
    transport = MockTransport(lambda r: ok([{"work_item_id": 1}]))
    async with project(transport) as c:
        with pytest.raises(InvalidResponseError, match="already returned"):
            async for _ in c.subtasks.search(project_keys=["p1"]):
                pass
    assert len(transport.calls()) == 2


async def test_the_response_decoder_exists_before_the_call_takes_its_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Measured in the fleet benchmark: the first decode imported the generated models (over
    # 100 ms) while other calls' reserved starts passed, so they left late and lost their slots.
    from aiofeishu import _base, _plan
    from aiofeishu.project import endpoints

    monkeypatch.setattr(_base, "_decoders", {})
    monkeypatch.setattr(_plan, "_plans", {})  # a plan holds its decoder
    response_type = endpoints.WORK_ITEMS_QUERY.response_type
    client = project(MockTransport(lambda request: ok([])))
    store = client.store()
    admit_now = store.admit_now
    decoders_at_admission: list[bool] = []

    def watching_admit(key: str, policy: RatePolicy) -> Any:
        if key.endswith(endpoints.WORK_ITEMS_QUERY.key):
            decoders_at_admission.append(response_type in _base._decoders)
        return admit_now(key, policy)

    monkeypatch.setattr(store, "admit_now", watching_admit)
    async with client:
        await client.work_items.query(**QUERY)
    assert decoders_at_admission == [True]


def test_decoded_members_are_not_tracked_by_the_garbage_collector() -> None:
    # Tracking every struct of a decoded answer made collections a tenth of reading a
    # rich-text record; decoded data forms no cycles.
    import gc

    from aiofeishu._base import response_decoder
    from aiofeishu.open import endpoints

    decoder = response_decoder(endpoints.OKR_GET_PROGRESS_RECORD.response_type)
    record = decoder.decode(msgspec.json.encode(OKR_EXAMPLE))
    assert record.data is not None and not gc.is_tracked(record.data)
    assert record.data.content is not None and not gc.is_tracked(record.data.content)
