"""What goes on the wire, what comes back, and how failures surface.

The clients send through a ScriptedTransport (tests/mock_transport.py): the SDK's own
transport seam, answering only what each test scripts and recording what was sent.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import msgspec
import pytest

import aiofeishu
from aiofeishu import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    FeishuConnectionError,
    FeishuError,
    FeishuTimeoutError,
    InvalidResponseError,
    NotFoundError,
    OpenClient,
    PermissionDeniedError,
    ProjectClient,
    RateLimitError,
    RequestOptions,
    RequestValidationError,
    ResultLimitError,
    ServerError,
)
from aiofeishu._base import enc_hook
from aiofeishu.open import requests as orq
from aiofeishu.project import models as pm
from aiofeishu.project import requests as prq
from tests.mock_transport import ScriptedTransport, json_reply, text_reply

P_URL = "http://feishu.test"
O_URL = "http://open.test"
PLUGIN_TOKEN = "/open_api/authen/plugin_token"
TENANT_TOKEN = "/open-apis/auth/v3/tenant_access_token/internal"
QUERY = "/open_api/p1/work_item/story/query"
FILTER = "/open_api/p1/work_item/filter"
CREATE = "/open_api/p1/work_item/create"
COMMENTS = "/open_api/p1/work_item/story/7/comments"
OKR_CREATE = "/open-apis/okr/v1/progress_records"
OKR_GET = "/open-apis/okr/v1/progress_records/rec1"
TASK_PATCH = "/open-apis/task/v1/tasks/t1"


@pytest.fixture(autouse=True)
def _no_credentials_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "FEISHU_PROJECT_PLUGIN_ID",
        "FEISHU_PROJECT_PLUGIN_SECRET",
        "FEISHU_PROJECT_USER_KEY",
        "FEISHU_PROJECT_BASE_URL",
        "FEISHU_APP_ID",
        "FEISHU_APP_SECRET",
        "FEISHU_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


# -- helpers -------------------------------------------------------------------------------------


def plugin_token(token: str = "p-1") -> dict[str, Any]:
    return {"data": {"token": token, "expire_time": 7200}, "error": {"code": 0, "msg": "success"}}


def tenant_token(token: str = "t-1") -> dict[str, Any]:
    return {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200}


def project_ok(data: Any = None, **extra: Any) -> dict[str, Any]:
    return {"data": data, "err_code": 0, "err_msg": "", "err": {}, **extra}


def project_err(code: int, msg: str = "failed", **err: Any) -> dict[str, Any]:
    return {
        "data": None,
        "err_code": code,
        "err_msg": msg,
        "err": {"code": code, "msg": msg, **err},
    }


@pytest.fixture
def wire() -> ScriptedTransport:
    """The transport both clients send through: answers only what a test scripts."""
    return ScriptedTransport()


@pytest.fixture
async def project(wire: ScriptedTransport) -> AsyncIterator[ProjectClient]:
    async with ProjectClient(
        "pid",
        "psecret",
        user_key="u1",
        base_url=P_URL,
        retry_backoff=(0.001, 0.002),
        transport=wire,
    ) as client:
        yield client


@pytest.fixture
async def open_client(wire: ScriptedTransport) -> AsyncIterator[OpenClient]:
    async with OpenClient(
        "app", "asecret", base_url=O_URL, retry_backoff=(0.001, 0.002), transport=wire
    ) as client:
        yield client


def with_tokens(wire: ScriptedTransport) -> None:
    wire.add("POST", PLUGIN_TOKEN, json_reply(plugin_token()), repeat=True)
    wire.add("POST", TENANT_TOKEN, json_reply(tenant_token()), repeat=True)


def query_one(project: ProjectClient, **options: Any) -> Any:
    """work_items.query of item 1 in p1's stories, with ``options`` as RequestOptions."""
    return project.work_items.query(
        project_key="p1",
        work_item_type_key="story",
        work_item_ids=[1],
        request_options=RequestOptions(**options) if options else None,
    )


def text_content() -> dict[str, Any]:
    return {
        "blocks": [
            {
                "type": "paragraph",
                "paragraph": {"elements": [{"type": "textRun", "textRun": {"text": "hi"}}]},
            }
        ]
    }


# -- 1. request building -------------------------------------------------------------------------


async def test_project_call_method_quoted_path_body_and_headers(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    wire.add("POST", PLUGIN_TOKEN, json_reply(plugin_token()))
    path = "/open_api/p%2F1%20x/work_item/story/query"
    wire.add("POST", path, json_reply(project_ok([])))

    await project.work_items.query(
        project_key="p/1 x", work_item_type_key="story", work_item_ids=[1, 2]
    )

    [token_call] = wire.sent("POST", PLUGIN_TOKEN)
    assert token_call.body == {"plugin_id": "pid", "plugin_secret": "psecret", "type": 0}
    [call] = wire.sent("POST", path)
    assert call.body == {"work_item_ids": [1, 2]}  # unset `fields` / `expand` left out
    assert call.headers == {
        "X-PLUGIN-TOKEN": "p-1",
        "X-USER-KEY": "u1",
        "Content-Type": "application/json",
    }
    assert call.query == {}


async def test_request_options_user_key_overrides_the_client_header(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, json_reply(project_ok([])), repeat=True)

    await project.work_items.query(
        project_key="p1",
        work_item_type_key="story",
        work_item_ids=[1],
        request_options=RequestOptions(user_key="u-override"),
    )
    await project.work_items.query(project_key="p1", work_item_type_key="story", work_item_ids=[1])

    first, second = wire.sent("POST", QUERY)
    assert first.headers["X-USER-KEY"] == "u-override"
    assert second.headers["X-USER-KEY"] == "u1"
    assert first.body == second.body == {"work_item_ids": [1]}


async def test_body_field_named_user_key_stays_out_of_the_header(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", "/open_api/projects", json_reply(project_ok(["p1"])), repeat=True)

    resp = await project.projects.list(user_key="body-user")
    await project.projects.list(
        user_key="body-user", request_options=RequestOptions(user_key="header-user")
    )

    assert resp.data == ["p1"]
    first, second = wire.sent("POST", "/open_api/projects")
    assert first.body == {"user_key": "body-user"}
    assert first.headers["X-USER-KEY"] == "u1"
    assert second.body == {"user_key": "body-user"}
    assert second.headers["X-USER-KEY"] == "header-user"


async def test_user_key_optional_endpoint_sends_no_user_header_without_one(
    wire: ScriptedTransport,
) -> None:
    with_tokens(wire)
    wire.add("POST", "/open_api/user/query", json_reply(project_ok([])))
    async with ProjectClient("pid", "psecret", base_url=P_URL, transport=wire) as client:
        await client.users.query(user_keys=["u9"])

    [call] = wire.sent("POST", "/open_api/user/query")
    assert call.headers == {"X-PLUGIN-TOKEN": "p-1", "Content-Type": "application/json"}
    assert call.body == {"user_keys": ["u9"]}


async def test_user_key_required_endpoint_refuses_to_send_without_one(
    wire: ScriptedTransport,
) -> None:
    with_tokens(wire)
    async with ProjectClient("pid", "psecret", base_url=P_URL, transport=wire) as client:
        with pytest.raises(ConfigurationError, match="user key"):
            await client.work_items.filter(project_key="p1", work_item_type_keys=["story"])
    assert wire.sent("POST", FILTER) == []


async def test_open_call_bearer_token_and_query_params(
    wire: ScriptedTransport, open_client: OpenClient
) -> None:
    wire.add("POST", TENANT_TOKEN, json_reply(tenant_token()))
    wire.add(
        "POST",
        OKR_CREATE,
        json_reply({"code": 0, "msg": "success", "data": {"progress_id": "rec1"}}),
    )

    resp = await open_client.okr.create_progress_record(
        user_id_type="open_id",
        source_title="CI",
        source_url="https://ci.example/1",
        target_id="kr1",
        target_type=3,
        content=text_content(),
    )

    assert resp.data.progress_id == "rec1"
    [token_call] = wire.sent("POST", TENANT_TOKEN)
    assert token_call.body == {"app_id": "app", "app_secret": "asecret"}
    assert token_call.headers == {"Content-Type": "application/json; charset=utf-8"}
    [call] = wire.sent("POST", OKR_CREATE)
    assert call.query == {"user_id_type": "open_id"}
    assert call.headers == {
        "Authorization": "Bearer t-1",
        "Content-Type": "application/json; charset=utf-8",
    }
    # Query params stay out of the body; unset optionals are omitted.
    assert call.body == {
        "source_title": "CI",
        "source_url": "https://ci.example/1",
        "target_id": "kr1",
        "target_type": 3,
        "content": text_content(),
    }


async def test_get_endpoints_send_no_body(
    wire: ScriptedTransport, project: ProjectClient, open_client: OpenClient
) -> None:
    with_tokens(wire)
    wire.add("GET", "/open-apis/okr/v1/progress_records/a%2Fb", json_reply({"code": 0, "data": {}}))
    wire.add("GET", "/open_api/p1/work_item/story/meta", json_reply(project_ok([])))

    await open_client.okr.get_progress_record(progress_id="a/b")
    await project.work_items.meta(project_key="p1", work_item_type_key="story")

    [okr_call] = wire.sent("GET", "/open-apis/okr/v1/progress_records/a%2Fb")
    [meta_call] = wire.sent("GET", "/open_api/p1/work_item/story/meta")
    assert okr_call.raw is None
    assert okr_call.query == {}
    # No body, no Content-Type on the Open Platform (its GET pages list Authorization only);
    # Feishu Project's overview requires one on every request.
    assert okr_call.headers == {"Authorization": "Bearer t-1"}
    assert meta_call.raw is None
    assert meta_call.headers == {
        "X-PLUGIN-TOKEN": "p-1",
        "X-USER-KEY": "u1",
        "Content-Type": "application/json",
    }


async def test_an_open_get_with_extra_headers_sends_no_content_type(
    wire: ScriptedTransport, open_client: OpenClient
) -> None:
    with_tokens(wire)
    wire.add("GET", "/open-apis/okr/v1/progress_records/r1", json_reply({"code": 0, "data": {}}))

    await open_client.okr.get_progress_record(
        progress_id="r1", request_options=RequestOptions(extra_headers={"X-Trace": "t"})
    )

    [call] = wire.sent("GET", "/open-apis/okr/v1/progress_records/r1")
    assert call.headers == {"Authorization": "Bearer t-1", "X-Trace": "t"}


# -- 2. nested values: Structs or dicts ----------------------------------------------------------


async def test_field_value_pairs_as_structs_or_dicts_give_the_same_wire_json(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", CREATE, json_reply(project_ok(42)), repeat=True)

    resp = await project.work_items.create(
        project_key="p1",
        work_item_type_key="story",
        field_value_pairs=[
            prq.FieldValuePair(field_key="priority", field_value={"value": "0"}),
            {"field_key": "name", "field_value": "x"},
        ],
    )
    await project.work_items.create(
        project_key="p1",
        work_item_type_key="story",
        field_value_pairs=[
            {"field_key": "priority", "field_value": {"value": "0"}},
            prq.FieldValuePair(field_key="name", field_value="x"),
        ],
    )

    assert resp.data == 42
    mixed, flipped = wire.sent("POST", CREATE)
    expected = {
        "work_item_type_key": "story",  # a body member of this endpoint, not a path param
        "field_value_pairs": [
            {"field_key": "priority", "field_value": {"value": "0"}},
            {"field_key": "name", "field_value": "x"},
        ],
    }
    assert mixed.body == flipped.body == expected
    assert mixed.headers["X-IDEM-UUID"]  # a write
    assert mixed.headers["X-IDEM-UUID"] != flipped.headers["X-IDEM-UUID"]


async def test_okr_content_structs_go_out_with_camel_case_wire_keys(
    wire: ScriptedTransport, open_client: OpenClient
) -> None:
    with_tokens(wire)
    wire.add("POST", OKR_CREATE, json_reply({"code": 0, "msg": "success", "data": {}}), repeat=True)
    content = orq.ContentBlock(
        blocks=[
            orq.ContentBlockElement(
                type="paragraph",
                paragraph=orq.ContentParagraph(
                    style=orq.ContentParagraphStyle(
                        list=orq.ContentList(type="bullet", indent_level=2)
                    ),
                    elements=[
                        orq.ContentParagraphElement(
                            type="textRun",
                            text_run=orq.ContentTextRun(
                                text="done",
                                style=orq.ContentTextStyle(bold=True, strike_through=True),
                            ),
                        )
                    ],
                ),
            )
        ]
    )
    wire_json = {
        "blocks": [
            {
                "type": "paragraph",
                "paragraph": {
                    "style": {"list": {"type": "bullet", "indentLevel": 2}},
                    "elements": [
                        {
                            "type": "textRun",
                            "textRun": {
                                "text": "done",
                                "style": {"bold": True, "strikeThrough": True},
                            },
                        }
                    ],
                },
            }
        ]
    }
    args: dict[str, Any] = {
        "source_title": "CI",
        "source_url": "http://ci.example",
        "target_id": "o1",
        "target_type": 2,
    }

    await open_client.okr.create_progress_record(content=content, **args)
    await open_client.okr.create_progress_record(content=wire_json, **args)

    from_structs, from_dict = wire.sent("POST", OKR_CREATE)
    assert from_structs.body["content"] == wire_json
    assert from_dict.body == from_structs.body
    raw = from_structs.raw
    for snake in (b"text_run", b"strike_through", b"indent_level"):
        assert snake not in raw


# -- 3. validation before sending ----------------------------------------------------------------

OKR_ARGS: dict[str, Any] = {
    "source_title": "CI",
    "source_url": "https://ci.example",
    "target_id": "kr1",
    "target_type": 3,
    "content": text_content(),
}

Call = Callable[[ProjectClient, OpenClient], Any]

INVALID: list[tuple[str, Call, str]] = [
    (
        "wrong type",
        lambda p, o: p.comments.list(
            project_key="p1", work_item_type_key="story", work_item_id=7, page_size="10"
        ),
        "$.page_size",
    ),
    (
        "wrong item type",
        lambda p, o: p.work_items.query(
            project_key="p1", work_item_type_key="story", work_item_ids=[1, "two"]
        ),
        "$.work_item_ids[1]",
    ),
    ("null for a required string", lambda p, o: p.projects.list(user_key=None), "$.user_key"),
    (
        "enum",
        lambda p, o: o.okr.create_progress_record(**{**OKR_ARGS, "target_type": 5}),
        "$.target_type",
    ),
    (
        "enum in the query",
        lambda p, o: o.okr.get_progress_record(progress_id="r", user_id_type="email"),
        "$.user_id_type",
    ),
    (
        "range",
        lambda p, o: p.work_items.filter(
            project_key="p1", work_item_type_keys=["story"], page_size=201
        ),
        "$.page_size",
    ),
    (
        "regex",
        lambda p, o: o.okr.create_progress_record(**{**OKR_ARGS, "source_url": "ftp://x"}),
        "$.source_url",
    ),
    (
        "list too long",
        lambda p, o: p.work_items.query(
            project_key="p1", work_item_type_key="story", work_item_ids=list(range(1, 52))
        ),
        "$.work_item_ids",
    ),
    (
        "list too short",
        lambda p, o: p.work_items.filter(project_key="p1", work_item_type_keys=[]),
        "$.work_item_type_keys",
    ),
    (
        "empty path param",
        lambda p, o: p.work_items.query(
            project_key="", work_item_type_key="story", work_item_ids=[1]
        ),
        "$.project_key",
    ),
    (
        "unknown nested key",
        lambda p, o: p.work_items.create(
            project_key="p1",
            work_item_type_key="story",
            field_value_pairs=[
                {"field_key": "name", "field_value": "x"},
                {"field_kye": "priority", "field_value": "0"},
            ],
        ),
        "$.field_value_pairs[1]",
    ),
    (
        "missing required nested member",
        lambda p, o: o.okr.create_progress_record(
            **{**OKR_ARGS, "content": {"blocks": [{"paragraph": {}}]}}
        ),
        "$.content.blocks[0]",
    ),
    (
        "missing required deep member",
        lambda p, o: o.okr.create_progress_record(
            **{
                **OKR_ARGS,
                "content": {
                    "blocks": [
                        {
                            "type": "paragraph",
                            "paragraph": {"elements": [{"type": "textRun", "textRun": {}}]},
                        }
                    ]
                },
            }
        ),
        "$.content.blocks[0].paragraph.elements[0].textRun",
    ),
    (
        "nested range",
        lambda p, o: o.task.patch(
            task_id="t1",
            user_id_type="open_id",
            task={"summary": "s" * 257},
            update_fields=["summary"],
        ),
        "$.task.summary",
    ),
]


@pytest.mark.parametrize(
    ("call", "field_path"),
    [pytest.param(call, path, id=name) for name, call, path in INVALID],
)
async def test_invalid_arguments_raise_before_anything_is_sent(
    wire: ScriptedTransport,
    project: ProjectClient,
    open_client: OpenClient,
    call: Call,
    field_path: str,
) -> None:
    # No routes at all: had anything been sent, it would show in wire.seen.
    with pytest.raises(RequestValidationError) as info:
        result = call(project, open_client)
        if inspect.isawaitable(result):
            await result
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, FeishuError)
    assert err.field_path == field_path
    assert f"`{field_path}`" in str(err)
    assert err.endpoint in str(err)
    assert wire.seen == []


async def test_unencodable_argument_is_a_validation_error(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with pytest.raises(RequestValidationError):
        await project.work_items.create(
            project_key="p1",
            work_item_type_key="story",
            name=object(),  # type: ignore[arg-type]
        )
    assert wire.seen == []


# -- 4. error mapping ----------------------------------------------------------------------------

PROJECT_ERRORS = [
    pytest.param(400, 20006, BadRequestError, id="400-20006"),
    pytest.param(403, 10001, PermissionDeniedError, id="403-10001"),
    pytest.param(404, 30005, NotFoundError, id="404-30005"),
    pytest.param(429, 10429, RateLimitError, id="429-10429"),
    pytest.param(500, 50006, ServerError, id="500-50006"),
    pytest.param(200, 20006, BadRequestError, id="200-20006"),
]


@pytest.mark.parametrize(("status", "code", "cls"), PROJECT_ERRORS)
async def test_project_error_status_and_code_map_to_classes(
    wire: ScriptedTransport, project: ProjectClient, status: int, code: int, cls: type[APIError]
) -> None:
    with_tokens(wire)
    wire.add(
        "POST",
        QUERY,
        json_reply(
            project_err(code, "docs message"), status=status, headers={"X-Tt-Logid": "log-hdr"}
        ),
    )

    with pytest.raises(cls) as info:
        await query_one(project, max_retries=0)

    err = info.value
    assert type(err) is cls
    assert isinstance(err, APIError)
    assert isinstance(err, FeishuError)
    assert (err.status, err.code, err.msg) == (status, code, "docs message")
    assert (err.method, err.path) == ("POST", QUERY)
    assert err.log_id == "log-hdr"
    assert err.detail == {"code": code, "msg": "docs message"}
    assert str(code) in str(err)
    assert "log-hdr" in str(err)
    assert len(wire.sent("POST", QUERY)) == 1


async def test_not_found_error_carries_the_docs_hint(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, json_reply(project_err(30005, "WorkItem Not Found"), status=404))

    with pytest.raises(NotFoundError) as info:
        await query_one(project)

    assert info.value.hint is not None
    assert "工作项未找到" in info.value.hint
    assert "工作项未找到" in str(info.value)


async def test_log_id_from_the_body_when_there_is_no_header(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, json_reply(project_err(20006, log_id="log-body"), status=400))
    wire.add(
        "POST",
        QUERY,
        json_reply(
            project_err(20006, log_id="log-body"), status=400, headers={"X-Tt-Logid": "log-hdr"}
        ),
    )

    for expected in ("log-body", "log-hdr"):
        with pytest.raises(BadRequestError) as info:
            await query_one(project)
        assert info.value.log_id == expected


async def test_rejected_plugin_token_is_renewed_once_then_authentication_error(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    wire.add("POST", PLUGIN_TOKEN, json_reply(plugin_token("p-1")))
    wire.add("POST", PLUGIN_TOKEN, json_reply(plugin_token("p-2")))
    wire.add(
        "POST", QUERY, json_reply(project_err(10022, "Check Token Failed"), status=401), repeat=True
    )

    with pytest.raises(AuthenticationError) as info:
        await query_one(project)

    assert (info.value.status, info.value.code) == (401, 10022)
    assert len(wire.sent("POST", PLUGIN_TOKEN)) == 2
    sent = wire.sent("POST", QUERY)
    assert [c.headers["X-PLUGIN-TOKEN"] for c in sent] == ["p-1", "p-2"]


async def test_rejected_plugin_token_renewal_lets_the_call_succeed(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    wire.add("POST", PLUGIN_TOKEN, json_reply(plugin_token("p-1")))
    wire.add("POST", PLUGIN_TOKEN, json_reply(plugin_token("p-2")))
    wire.add("POST", QUERY, json_reply(project_err(10022, "Check Token Failed"), status=401))
    wire.add("POST", QUERY, json_reply(project_ok([{"id": 1}])))

    resp = await query_one(project)

    assert resp.data[0].id == 1
    assert len(wire.sent("POST", PLUGIN_TOKEN)) == 2


async def test_open_platform_error_code_maps_and_reads_log_id_from_the_body(
    wire: ScriptedTransport, open_client: OpenClient
) -> None:
    with_tokens(wire)
    wire.add(
        "PATCH",
        TASK_PATCH,
        json_reply(
            {"code": 1470400, "msg": "bad params", "error": {"log_id": "open-log"}}, status=400
        ),
    )

    with pytest.raises(BadRequestError) as info:
        await open_client.task.patch(
            task_id="t1", user_id_type="open_id", task={"summary": "s"}, update_fields=["summary"]
        )

    err = info.value
    assert isinstance(err, APIError)
    assert (err.status, err.code, err.msg) == (400, 1470400, "bad params")
    assert (err.method, err.path) == ("PATCH", TASK_PATCH)
    assert err.log_id == "open-log"
    assert err.hint  # the docs' advice for 1470400
    assert len(wire.sent("PATCH", TASK_PATCH)) == 1


async def test_open_platform_invalid_token_code_renews_the_tenant_token(
    wire: ScriptedTransport, open_client: OpenClient
) -> None:
    wire.add("POST", TENANT_TOKEN, json_reply(tenant_token("t-1")))
    wire.add("POST", TENANT_TOKEN, json_reply(tenant_token("t-2")))
    wire.add(
        "GET",
        OKR_GET,
        json_reply(
            {"code": 99991663, "msg": "Invalid access token for authorization."}, status=400
        ),
    )
    wire.add(
        "GET", OKR_GET, json_reply({"code": 0, "msg": "success", "data": {"progress_id": "rec1"}})
    )

    resp = await open_client.okr.get_progress_record(progress_id="rec1")

    assert resp.data.progress_id == "rec1"
    assert len(wire.sent("POST", TENANT_TOKEN)) == 2
    sent = wire.sent("GET", OKR_GET)
    assert [c.headers["Authorization"] for c in sent] == ["Bearer t-1", "Bearer t-2"]


# The token a client holds is used without awaiting only while the shared store still holds
# it: once a sibling client has renewed it, the next call carries the new one.


async def test_a_project_client_takes_up_the_token_a_sibling_renewed(
    wire: ScriptedTransport,
) -> None:
    wire.add("POST", PLUGIN_TOKEN, json_reply(plugin_token("p-1")))
    wire.add("POST", PLUGIN_TOKEN, json_reply(plugin_token("p-2")))
    wire.add("POST", QUERY, json_reply(project_ok([])))
    wire.add("POST", QUERY, json_reply(project_err(10022, "Check Token Failed"), status=401))
    wire.add("POST", QUERY, json_reply(project_ok([])), repeat=True)
    first, second = (
        ProjectClient("pid", "psecret", user_key="u1", base_url=P_URL, transport=wire)
        for _ in range(2)
    )
    async with first, second:
        await query_one(first)  # p-1, now in hand
        await query_one(second)  # p-1 rejected: renewed to p-2 in the shared store
        await query_one(first)

    sent = [c.headers["X-PLUGIN-TOKEN"] for c in wire.sent("POST", QUERY)]
    assert sent == ["p-1", "p-1", "p-2", "p-2"]
    assert len(wire.sent("POST", PLUGIN_TOKEN)) == 2


async def test_an_open_client_takes_up_the_token_a_sibling_renewed(
    wire: ScriptedTransport,
) -> None:
    wire.add("POST", TENANT_TOKEN, json_reply(tenant_token("t-1")))
    wire.add("POST", TENANT_TOKEN, json_reply(tenant_token("t-2")))
    wire.add("GET", OKR_GET, json_reply({"code": 0, "data": {}}))
    wire.add("GET", OKR_GET, json_reply({"code": 99991663, "msg": "Invalid"}, status=400))
    wire.add("GET", OKR_GET, json_reply({"code": 0, "data": {}}), repeat=True)
    first, second = (OpenClient("app", "asecret", base_url=O_URL, transport=wire) for _ in "ab")
    async with first, second:
        for client in (first, second, first):
            await client.okr.get_progress_record(progress_id="rec1")

    sent = [c.headers["Authorization"] for c in wire.sent("GET", OKR_GET)]
    assert sent == ["Bearer t-1", "Bearer t-1", "Bearer t-2", "Bearer t-2"]
    assert len(wire.sent("POST", TENANT_TOKEN)) == 2


# -- 5. non-JSON / broken responses, retries -----------------------------------------------------


async def test_html_502_from_a_gateway_is_retried_then_a_feishu_error(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add(
        "POST",
        QUERY,
        text_reply("<html>Bad Gateway</html>", status=502, content_type="text/html"),
        repeat=True,
    )

    with pytest.raises(FeishuError) as info:
        await query_one(project)

    err = info.value
    assert isinstance(err, ServerError)
    assert not isinstance(err, (msgspec.MsgspecError, aiohttp.ClientError))
    assert err.status == 502
    assert "502" in str(err)
    assert "<html>Bad Gateway</html>" in str(err)
    assert len(wire.sent("POST", QUERY)) == 1 + project.max_retries


async def test_html_with_status_200_is_an_invalid_response(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, text_reply("<html>Login</html>", content_type="text/html"), repeat=True)

    with pytest.raises(InvalidResponseError) as info:
        await query_one(project)

    err = info.value
    assert (err.status, err.method, err.path) == (200, "POST", QUERY)
    assert "<html>Login</html>" in err.excerpt
    assert len(wire.sent("POST", QUERY)) == 1


async def test_json_that_does_not_fit_the_response_is_an_invalid_response(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, json_reply(project_ok("not a list of work items")))

    with pytest.raises(InvalidResponseError, match="does not match"):
        await query_one(project)


async def test_connection_error_is_retried_then_feishu_connection_error(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, FeishuConnectionError(f"POST {QUERY}: reset by peer"), repeat=True)

    with pytest.raises(FeishuConnectionError) as info:
        await query_one(project, max_retries=2)

    assert not isinstance(info.value, FeishuTimeoutError)
    # Nothing chained on the way up (an aiohttp cause's request_info carries the headers).
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert "reset by peer" in str(info.value)
    assert len(wire.sent("POST", QUERY)) == 3


async def test_timeout_is_feishu_timeout_error(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, FeishuTimeoutError(f"POST {QUERY}: no answer in 30s"), repeat=True)

    with pytest.raises(FeishuTimeoutError) as info:
        await query_one(project, max_retries=1)

    assert isinstance(info.value, FeishuConnectionError)
    assert len(wire.sent("POST", QUERY)) == 2


async def test_server_errors_on_reads_are_retried_up_to_max_retries(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, json_reply(project_err(50006), status=500), repeat=True)

    with pytest.raises(ServerError):
        await query_one(project)

    assert project.max_retries == 3
    assert len(wire.sent("POST", QUERY)) == 4


async def test_a_retried_read_returns_once_the_server_recovers(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, json_reply(project_err(50006), status=500))
    wire.add("POST", QUERY, json_reply(project_err(10429), status=429))
    wire.add("POST", QUERY, json_reply(project_ok([{"id": 5}])))

    resp = await project.work_items.query(
        project_key="p1", work_item_type_key="story", work_item_ids=[5]
    )

    assert resp.data[0].id == 5
    assert len(wire.sent("POST", QUERY)) == 3


async def test_a_400_is_never_retried(
    wire: ScriptedTransport, project: ProjectClient, open_client: OpenClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, json_reply(project_err(20006), status=400), repeat=True)
    wire.add("GET", OKR_GET, json_reply({"code": 1001001, "msg": "bad"}, status=400), repeat=True)

    with pytest.raises(BadRequestError):
        await query_one(project)
    with pytest.raises(APIError):
        await open_client.okr.get_progress_record(progress_id="rec1")

    assert len(wire.sent("POST", QUERY)) == 1
    assert len(wire.sent("GET", OKR_GET)) == 1


async def test_open_platform_writes_are_not_retried_on_server_errors(
    wire: ScriptedTransport, open_client: OpenClient
) -> None:
    # Open Platform writes carry no idempotency key, so a resend could apply twice.
    with_tokens(wire)
    wire.add(
        "PATCH",
        TASK_PATCH,
        json_reply({"code": 1470603, "msg": "internal"}, status=500),
        repeat=True,
    )

    with pytest.raises(ServerError):
        await open_client.task.patch(
            task_id="t1", user_id_type="open_id", task={"summary": "s"}, update_fields=["summary"]
        )

    assert len(wire.sent("PATCH", TASK_PATCH)) == 1


# -- 6. response decoding ------------------------------------------------------------------------


async def test_unknown_members_and_enum_values_decode_and_raw_json_keeps_them(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    payload = project_ok(
        [
            {
                "id": 1,
                "name": "story one",
                "pattern": "Hybrid",
                "brand_new_member": {"nested": [1, 2]},
                "fields": [
                    {
                        "field_key": "priority",
                        "field_type_key": "select",
                        "field_value": {"value": "0", "label": "P0"},
                    },
                    {
                        "field_key": "f_new",
                        "field_type_key": "hologram",
                        "field_value": {"beam": 3},
                    },
                ],
            }
        ],
        request_trace={"region": "cn"},
    )
    wire.add("POST", QUERY, json_reply(payload))

    resp = await query_one(project)

    item = resp.data[0]
    assert (item.id, item.name, item.pattern) == (1, "story one", "Hybrid")
    assert resp.raw_json() == payload
    select, unknown = item.fields
    assert aiofeishu.typed_value(select) == pm.OptionValue(value="0", label="P0")
    assert isinstance(aiofeishu.typed_value(select), pm.OptionValue)
    assert aiofeishu.typed_value(unknown) == {"beam": 3}


def test_typed_value_of_built_pairs() -> None:
    pair = pm.FieldValuePair(
        field_key="priority", field_type_key="select", field_value={"value": "1"}
    )
    assert aiofeishu.typed_value(pair) == pm.OptionValue(value="1")
    odd = pm.FieldValuePair(field_key="x", field_type_key="not_documented", field_value=[1, "a"])
    assert aiofeishu.typed_value(odd) == [1, "a"]


async def test_okr_blocks_of_unknown_types_decode_and_reencode_unchanged(
    wire: ScriptedTransport, open_client: OpenClient
) -> None:
    with_tokens(wire)
    data = {
        "progress_id": "rec1",
        "modify_time": "1700000000000",
        "content": {
            "blocks": [
                {
                    "type": "paragraph",
                    "paragraph": {
                        "elements": [
                            {
                                "type": "textRun",
                                "textRun": {"text": "hello", "style": {"strikeThrough": True}},
                            },
                            {"type": "equation", "equation": {"latex": "e=mc^2"}},
                        ]
                    },
                },
                {"type": "codeBlock", "codeBlock": {"language": "python", "code": "print(1)"}},
            ]
        },
        "progress_rate": {"percent": 50.0, "status": 7},
    }
    wire.add("GET", OKR_GET, json_reply({"code": 0, "msg": "success", "data": data}))

    resp = await open_client.okr.get_progress_record(progress_id="rec1")

    paragraph, code_block = resp.data.content.blocks
    assert paragraph.is_known
    assert paragraph.type == "paragraph"
    text, equation = paragraph.paragraph.elements
    assert text.is_known
    assert text.text_run.text == "hello"
    assert text.text_run.style.strike_through is True
    assert equation.is_known is False
    assert equation.type == "equation"
    assert equation.raw == {"type": "equation", "equation": {"latex": "e=mc^2"}}
    assert code_block.is_known is False
    assert code_block.type == "codeBlock"
    assert code_block.raw == data["content"]["blocks"][1]
    assert resp.data.progress_rate.status == 7  # an enum value this SDK does not know
    encoded = msgspec.json.encode(resp.data, enc_hook=enc_hook)
    assert msgspec.json.decode(encoded) == data


def test_typed_views_convert_with_a_hook_only_where_they_hold_open_objects() -> None:
    # convert's keyword arguments alone cost a third of an element's conversion, so a view
    # holding no open object converts without dec_hook; one holding some needs it.
    from aiofeishu._base import _holds_custom
    from aiofeishu.open import models as om

    assert _holds_custom(msgspec.inspect.type_info(om.ContentBlockElementFields))
    assert not _holds_custom(msgspec.inspect.type_info(om.ContentParagraphElementFields))
    assert _holds_custom(msgspec.inspect.type_info(list[om.ContentParagraph]))


# -- 7. pagination -------------------------------------------------------------------------------


def work_item_page(start: int, count: int, page_num: int, **pagination: Any) -> dict[str, Any]:
    items = [{"id": i, "name": f"w{i}"} for i in range(start, start + count)]
    return project_ok(items, pagination={"page_num": page_num, "page_size": 200, **pagination})


async def test_filter_iterates_every_item_across_pages_and_stops_on_a_short_page(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", FILTER, json_reply(work_item_page(0, 200, 1)))
    wire.add("POST", FILTER, json_reply(work_item_page(200, 200, 2)))
    wire.add("POST", FILTER, json_reply(work_item_page(400, 5, 3)))
    # No fourth route: asking for page 4 would fail the test with a connection error.

    ids = [
        item.id
        async for item in project.work_items.filter(project_key="p1", work_item_type_keys=["story"])
    ]

    assert ids == list(range(405))
    sent = [c.body for c in wire.sent("POST", FILTER)]
    assert [(b["page_num"], b["page_size"]) for b in sent] == [(1, 200), (2, 200), (3, 200)]
    assert all(b["work_item_type_keys"] == ["story"] for b in sent)


async def test_awaiting_a_paginated_call_fetches_one_page_as_given(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", FILTER, json_reply(work_item_page(0, 200, 1, total=1000)))

    page = await project.work_items.filter(project_key="p1", work_item_type_keys=["story"])

    assert len(page.data) == 200
    assert page.pagination.total == 1000
    [call] = wire.sent("POST", FILTER)
    assert call.body == {"work_item_type_keys": ["story"]}


async def test_comments_list_pages_through_query_params(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)

    def comments(*ids: int) -> dict[str, Any]:
        return project_ok([{"id": i, "content": f"c{i}"} for i in ids])

    wire.add("GET", COMMENTS, json_reply(comments(1, 2)))
    wire.add("GET", COMMENTS, json_reply(comments(3)))

    got = [
        c.id
        async for c in project.comments.list(
            project_key="p1", work_item_type_key="story", work_item_id=7, page_size=2
        )
    ]

    assert got == [1, 2, 3]
    sent = wire.sent("GET", COMMENTS)
    assert [c.query for c in sent] == [
        {"page_size": "2", "page_num": "1"},
        {"page_size": "2", "page_num": "2"},
    ]
    assert all(c.raw is None for c in sent)


async def test_comments_list_pages_default_to_the_largest_page(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("GET", COMMENTS, json_reply(project_ok([{"id": 1}], pagination={"total": 1})))

    pages = [
        page
        async for page in project.comments.list(
            project_key="p1", work_item_type_key="story", work_item_id=7
        ).pages()
    ]

    assert len(pages) == 1
    [call] = wire.sent("GET", COMMENTS)
    assert call.query == {"page_size": "200", "page_num": "1"}


async def test_filter_refuses_to_page_past_the_documented_result_cap(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", FILTER, json_reply(work_item_page(0, 200, 1, total=200_001)), repeat=True)

    seen: list[Any] = []
    with pytest.raises(ResultLimitError, match="200000"):
        async for item in project.work_items.filter(
            project_key="p1", work_item_type_keys=["story"]
        ):
            seen.append(item)

    assert seen == []
    assert len(wire.sent("POST", FILTER)) == 1


# -- 8. the endpoint registry --------------------------------------------------------------------


async def test_every_endpoint_descriptor_names_a_client_method(
    project: ProjectClient, open_client: OpenClient
) -> None:
    for client, prefix in ((project, "/open_api/"), (open_client, "/open-apis/")):
        descriptors = client.endpoints
        assert descriptors
        assert len({d.key for d in descriptors}) == len(descriptors)
        for d in descriptors:
            assert d.method in {"GET", "POST", "PUT", "PATCH", "DELETE"}, d
            assert d.path.startswith(prefix), d
            assert d.key == f"{d.method} {d.path}"
            assert issubclass(d.request_type, msgspec.Struct), d
            assert issubclass(d.response_type, msgspec.Struct), d
            for name in d.path_params:
                assert f":{name}" in d.path, d
            method = getattr(getattr(client, d.group), d.name)
            assert inspect.iscoroutinefunction(method) or callable(method), d
            params = inspect.signature(method).parameters
            assert set(d.path_params + d.query_params + d.body_params) <= set(params), d
            assert "request_options" in params, d

    by_key = {d.key: d for d in project.endpoints}
    query = by_key["POST /open_api/:project_key/work_item/:work_item_type_key/query"]
    assert (query.group, query.name) == ("work_items", "query")
    assert query.request_type is prq.WorkItemsQueryRequest
    assert query.response_type is pm.WorkItemsQueryResponse
