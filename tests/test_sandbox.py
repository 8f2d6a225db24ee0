"""The sandbox: each rule it enforces, its state, its faults, and the SDK's hard cases on it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest

from aiofeishu import (
    APIError,
    NotFoundError,
    RequestOptions,
    RequestValidationError,
    ServerError,
)
from aiofeishu._base import dec_hook
from aiofeishu.open.doc_responses import RESPONSES as OPEN_EXAMPLES
from aiofeishu.open.endpoints import ALL as OPEN_ENDPOINTS
from aiofeishu.project.doc_responses import RESPONSES as PROJECT_EXAMPLES
from aiofeishu.project.endpoints import ALL as PROJECT_ENDPOINTS
from aiofeishu.sandbox import Faults, Sandbox, SandboxConfig
from tests.sandbox_timing import margin_for

PLUGIN_TOKEN = "/open_api/authen/plugin_token"


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(time_scale=5) as sandbox:
        yield sandbox


async def raw(
    sb: Sandbox, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, Any, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, sb.url + path, json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json(), resp.headers


async def plugin_token(sb: Sandbox) -> str:
    _, body, _ = await raw(
        sb,
        "POST",
        PLUGIN_TOKEN,
        {"plugin_id": sb.config.plugin_id, "plugin_secret": sb.config.plugin_secret, "type": 0},
    )
    return str(body["data"]["token"])


async def new_item(client: Any, sb: Sandbox, name: str = "item", type_key: str = "story") -> int:
    created = await client.work_items.create(
        project_key=sb.project_key, work_item_type_key=type_key, name=name
    )
    return int(created.data)


# -- tokens and headers ---------------------------------------------------------------------


async def test_same_token_while_valid_then_a_new_one(sb: Sandbox) -> None:
    first, second = await plugin_token(sb), await plugin_token(sb)
    assert first == second
    sb.server.revoke_tokens()
    assert await plugin_token(sb) != first
    _, body, _ = await raw(
        sb, "POST", PLUGIN_TOKEN, {"plugin_id": "MII_SANDBOX", "plugin_secret": "wrong"}
    )
    assert body["error"]["code"] == 10211 and "data" in body


async def test_expired_token_is_refused_and_the_client_fetches_a_new_one() -> None:
    async with Sandbox(token_ttl=1) as sb:
        token = await plugin_token(sb)
        await asyncio.sleep(1.05)
        status, body, headers = await raw(
            sb,
            "GET",
            "/open_api/sandbox/business/all",
            **{"X-PLUGIN-TOKEN": token, "X-USER-KEY": "u"},
        )
        assert (status, body["err_code"]) == (401, 10022)
        assert body["err"]["log_id"] == headers["X-Tt-Logid"]
        async with sb.project_client() as client:
            await client.config.list_businesses(project_key=sb.project_key)
            await asyncio.sleep(1.05)  # the cached token expires; the client must renew it
            await client.config.list_businesses(project_key=sb.project_key)
        assert len(sb.calls("authen.plugin_token")) >= 3


async def test_missing_token_and_missing_user_key(sb: Sandbox) -> None:
    status, body, _ = await raw(sb, "GET", "/open_api/sandbox/business/all")
    assert (status, body["err_code"]) == (401, 10021)
    token = await plugin_token(sb)
    status, body, _ = await raw(
        sb, "GET", "/open_api/sandbox/business/all", **{"X-PLUGIN-TOKEN": token}
    )
    assert (status, body["err_code"]) == (400, 20039)
    assert body["err_msg"].startswith("Plugin Token Must Have User Key")


async def test_open_platform_token_rules(sb: Sandbox) -> None:
    _, body, _ = await raw(sb, "GET", "/open-apis/okr/v1/progress_records/1")
    assert body["code"] == 99991661
    _, body, _ = await raw(
        sb, "GET", "/open-apis/okr/v1/progress_records/1", Authorization="Bearer nope"
    )
    assert body["code"] == 99991663


# -- request validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/open_api/sandbox/work_item/create", {"name": "no type"}, 20005),
        ("/open_api/sandbox/work_item/create", {"work_item_type_key": 7}, 20006),
        ("/open_api/sandbox/work_item/create", {"work_item_type_key": "s", "bogus": 1}, 20006),
        (
            "/open_api/sandbox/work_item/filter",
            {"work_item_type_keys": ["story"], "page_size": 500},
            20002,
        ),
        ("/open_api/sandbox/work_item/story/query", {"work_item_ids": list(range(51))}, 20028),
    ],
)
async def test_bodies_are_validated_against_the_spec(
    sb: Sandbox, path: str, body: Any, code: int
) -> None:
    token = await plugin_token(sb)
    status, answer, headers = await raw(
        sb, "POST", path, body, **{"X-PLUGIN-TOKEN": token, "X-USER-KEY": "u"}
    )
    assert (status, answer["err_code"], answer["err"]["code"]) == (400, code, code)
    assert answer["err"]["log_id"] == headers["X-Tt-Logid"]
    assert not sb.state.work_items  # nothing happened


async def test_validation_errors_reach_the_sdk_with_code_and_hint(sb: Sandbox) -> None:
    async with sb.project_client() as client:
        with pytest.raises(NotFoundError) as info:
            await client.work_items.query(
                project_key=sb.project_key, work_item_type_key="story", work_item_ids=[1]
            )
    assert info.value.code == 30005 and info.value.log_id


# -- rate limits and idempotency -------------------------------------------------------------


async def test_a_burst_beyond_the_window_gets_429() -> None:
    async with Sandbox(threaded=True) as sb:  # 15 per second: the burst fits in the window
        await _burst_gets_429(sb)


async def _burst_gets_429(sb: Sandbox) -> None:
    token = await plugin_token(sb)
    headers = {"X-PLUGIN-TOKEN": token, "X-USER-KEY": "u"}
    results = await asyncio.gather(
        *(raw(sb, "GET", "/open_api/sandbox/business/all", **headers) for _ in range(20))
    )
    codes = sorted(body.get("err_code") for _, body, _ in results)
    assert codes.count(10429) >= 5 and codes.count(0) <= 15
    assert all(status == 429 for status, body, _ in results if body["err_code"] == 10429)


async def test_the_sdk_never_exceeds_the_sandbox_windows() -> None:
    # The server on its own thread, the client's windows stretched by the arrival-stamp lag
    # a loaded machine shows (tests/sandbox_timing.py): what is asserted is counted by the
    # server, and a client that ignored the windows would overrun by a whole burst. The
    # schedule itself is asserted exactly on virtual time (tests/test_rate_schedule.py).
    async with Sandbox(threaded=True, time_scale=2) as sb:
        async with sb.project_client(rate_limit_margin=margin_for(sb)) as client:
            await asyncio.gather(*(new_item(client, sb, f"n{i}") for i in range(45)))
        period = 1 / sb.config.time_scale
        assert sb.server.rejected_429 == 0
        assert sb.server.max_in_window("work_items.create", period) <= 15
        assert len(sb.state.work_items) == 45


async def test_a_repeated_idempotency_key_replays_the_first_answer(sb: Sandbox) -> None:
    async with sb.project_client() as client:
        options = RequestOptions(idempotency_key="same-key")
        first = await client.work_items.create(
            project_key=sb.project_key,
            work_item_type_key="story",
            name="once",
            request_options=options,
        )
        again = await client.work_items.create(
            project_key=sb.project_key,
            work_item_type_key="story",
            name="once",
            request_options=options,
        )
    assert first.data == again.data and len(sb.state.work_items) == 1


# -- state ----------------------------------------------------------------------------------


async def test_work_item_lifecycle(sb: Sandbox) -> None:
    pk = sb.project_key
    async with sb.project_client() as c:
        wid = await new_item(c, sb, "登录页")
        await c.work_items.update(
            project_key=pk,
            work_item_type_key="story",
            work_item_id=wid,
            update_fields=[{"field_key": "priority", "field_value": {"value": "1"}}],
        )
        [item] = (
            await c.work_items.query(
                project_key=pk, work_item_type_key="story", work_item_ids=[wid]
            )
        ).data
        assert item.name == "登录页" and item.fields[0].field_value == {"value": "1"}
        with pytest.raises(APIError) as info:
            await c.work_items.update(
                project_key=pk,
                work_item_type_key="bug",
                work_item_id=wid,
                update_fields=[{"field_key": "name", "field_value": "x"}],
            )
        assert info.value.code == 20010
        await c.work_items.abort(
            project_key=pk,
            work_item_type_key="story",
            work_item_id=wid,
            is_aborted=True,
            reason="dup",
        )
        with pytest.raises(APIError, match=r"20007|Aborted"):
            await c.work_items.abort(
                project_key=pk,
                work_item_type_key="story",
                work_item_id=wid,
                is_aborted=True,
                reason="dup",
            )
        page = await c.work_items.filter(project_key=pk, work_item_type_keys=["story"])
        assert page.data == []  # aborted items are not listed
        await c.work_items.abort(
            project_key=pk,
            work_item_type_key="story",
            work_item_id=wid,
            is_aborted=False,
            reason="back",
        )
        await c.work_items.freeze(project_key=pk, work_item_id=wid, is_frozen=True)
        with pytest.raises(APIError) as info:
            await c.work_items.update(
                project_key=pk,
                work_item_type_key="story",
                work_item_id=wid,
                update_fields=[{"field_key": "name", "field_value": "x"}],
            )
        assert info.value.code == 10002
        await c.work_items.delete(project_key=pk, work_item_type_key="story", work_item_id=wid)
        with pytest.raises(NotFoundError):
            await c.work_items.query(
                project_key=pk, work_item_type_key="story", work_item_ids=[wid]
            )


async def test_filter_fields_and_pagination(sb: Sandbox) -> None:
    pk = sb.project_key
    async with sb.project_client() as c:
        for i in range(12):
            await new_item(
                c, sb, f"bug {i}" if i % 3 == 0 else f"story {i}", "bug" if i % 3 == 0 else "story"
            )
        stories = [
            w.name
            async for w in c.work_items.filter(
                project_key=pk, work_item_type_keys=["story"], page_size=5
            )
        ]
        assert len(stories) == 8 and len(set(stories)) == 8
        page = await c.work_items.filter(
            project_key=pk,
            work_item_type_keys=["story", "bug"],
            work_item_name="bug",
            page_size=2,
            page_num=2,
        )
        assert page.pagination.total == 4 and [w.name for w in page.data] == ["bug 6", "bug 9"]


async def test_comments_subtasks_and_workflow(sb: Sandbox) -> None:
    pk, t = sb.project_key, "story"
    async with sb.project_client() as c:
        wid = await new_item(c, sb)
        cid = (
            await c.comments.create(
                project_key=pk, work_item_type_key=t, work_item_id=wid, content="first"
            )
        ).data
        await c.comments.update(
            project_key=pk, work_item_type_key=t, work_item_id=wid, comment_id=cid, content="edited"
        )
        comments = [
            x.content
            async for x in c.comments.list(project_key=pk, work_item_type_key=t, work_item_id=wid)
        ]
        assert comments == ["edited"]
        await c.comments.delete(
            project_key=pk, work_item_type_key=t, work_item_id=wid, comment_id=cid
        )
        doc = {"doc": "[]", "doc_text": "from a doc", "doc_img": ["https://img/1"]}
        await c.comments.create(
            project_key=pk, work_item_type_key=t, work_item_id=wid, doc_rich_text=doc
        )
        [listed] = (
            await c.comments.list(project_key=pk, work_item_type_key=t, work_item_id=wid)
        ).data
        assert listed.content == "from a doc"
        assert listed.doc_rich_text.doc_img == ["https://img/1"]

        task_id = (
            await c.subtasks.create(
                project_key=pk,
                work_item_type_key=t,
                work_item_id=wid,
                node_id="started",
                name="write tests",
            )
        ).data
        await c.subtasks.operate(
            project_key=pk,
            work_item_type_key=t,
            work_item_id=wid,
            node_id="started",
            task_id=task_id,
            action="confirm",
        )
        [node] = (
            await c.subtasks.list(
                project_key=pk, work_item_type_key=t, work_item_id=wid, node_id="started"
            )
        ).data
        assert node.sub_tasks[0].name == "write tests" and node.sub_tasks[0].passed is True

        with pytest.raises(APIError) as info:
            await c.workflows.operate_node(
                project_key=pk,
                work_item_type_key=t,
                work_item_id=wid,
                node_id="doing",
                action="confirm",
            )
        assert info.value.code == 20016  # not arrived yet
        await c.workflows.operate_node(
            project_key=pk,
            work_item_type_key=t,
            work_item_id=wid,
            node_id="started",
            action="confirm",
        )
        flow = (
            await c.workflows.query(project_key=pk, work_item_type_key=t, work_item_id=wid)
        ).data
        assert [n.status for n in flow.workflow_nodes] == [3, 2, 1]
        await c.workflows.change_state(
            project_key=pk, work_item_type_key=t, work_item_id=wid, transition_id=2
        )
        [item] = (
            await c.work_items.query(project_key=pk, work_item_type_key=t, work_item_ids=[wid])
        ).data
        assert item.work_item_status.state_key == "done"


async def test_attachment_round_trip_and_views(sb: Sandbox) -> None:
    pk, t = sb.project_key, "story"
    payload = bytes(range(256)) * 100
    async with sb.project_client() as c:
        wid = await new_item(c, sb)
        await c.attachments.upload(
            project_key=pk, work_item_type_key=t, work_item_id=wid, file=payload, field_key="files"
        )
        [item] = (
            await c.work_items.query(project_key=pk, work_item_type_key=t, work_item_ids=[wid])
        ).data
        uid = item.fields[0].field_value[0]["uid"]
        assert (
            await c.attachments.download(
                project_key=pk, work_item_type_key=t, work_item_id=wid, uuid=uid
            ).read()
            == payload
        )

        view = (
            await c.views.create_fix_view(
                project_key=pk, work_item_type_key=t, work_item_id_list=[wid], name="mine"
            )
        ).data
        other = await new_item(c, sb, "other")
        await c.views.update_fix_view(
            project_key=pk, work_item_type_key=t, view_id=view.view_id, add_work_item_ids=[other]
        )
        listed = [i async for i in c.views.list_work_items(project_key=pk, view_id=view.view_id)]
        assert listed == [wid, other]
        await c.views.delete(project_key=pk, view_id=view.view_id)
        with pytest.raises(NotFoundError):
            await c.views.list_work_items(project_key=pk, view_id=view.view_id)


async def test_open_platform_state(sb: Sandbox) -> None:
    content = {
        "blocks": [
            {
                "type": "paragraph",
                "paragraph": {"elements": [{"type": "textRun", "textRun": {"text": "50%"}}]},
            }
        ]
    }
    async with sb.open_client() as o:
        created = (
            await o.okr.create_progress_record(
                source_title="sync",
                source_url="https://example.com",
                target_id="7",
                target_type=2,
                content=content,
            )
        ).data
        fetched = (await o.okr.get_progress_record(progress_id=created.progress_id)).data
        assert fetched.content.blocks[0].paragraph.elements[0].text_run.text == "50%"
        with pytest.raises(APIError) as info:
            await o.okr.get_progress_record(progress_id="404")
        assert info.value.code == 1001004
        task = (
            await o.task.patch(
                task_id="t1",
                user_id_type="open_id",
                task={"summary": "new"},
                update_fields=["summary"],
            )
        ).data.task
        assert task.summary == "new"


def test_every_doc_example_answer_decodes_into_its_response_model() -> None:
    examples = {**PROJECT_EXAMPLES, **OPEN_EXAMPLES}
    endpoints = {f"{e.group}.{e.name}": e for e in (*PROJECT_ENDPOINTS, *OPEN_ENDPOINTS)}
    assert len(examples) >= 50
    for name, body in examples.items():
        msgspec.json.decode(
            msgspec.json.encode(body), type=endpoints[name].response_type, dec_hook=dec_hook
        )


async def test_endpoints_without_state_or_example_answer_well_formed(sb: Sandbox) -> None:
    async with sb.project_client() as c:
        rules = await c.relations.list_rules(project_key=sb.project_key)
        assert rules.err_code == 0
        records = [
            x
            async for x in c.work_items.list_man_hour_records(
                project_key=sb.project_key, work_item_type_key="story", work_item_id=1
            )
        ]
        assert records == []


# -- determinism, faults, the SDK's hard cases ------------------------------------------------


async def test_the_same_seed_gives_the_same_ids() -> None:
    ids = []
    for _ in range(2):
        async with Sandbox(seed=7) as sb, sb.project_client() as c:
            ids.append([await new_item(c, sb) for _ in range(3)])
    assert ids[0] == ids[1]
    async with Sandbox(seed=8) as sb, sb.project_client() as c:
        assert await new_item(c, sb) != ids[0][0]


async def test_cold_start_fetches_one_token_for_many_calls(sb: Sandbox) -> None:
    async with sb.project_client() as c:
        await asyncio.gather(
            *(c.config.list_businesses(project_key=sb.project_key) for _ in range(30))
        )
    assert len(sb.calls("authen.plugin_token")) == 1


async def test_dropped_connections_after_commit_create_nothing_twice() -> None:
    async with Sandbox(seed=3, time_scale=5, faults=Faults(drop_after_commit=0.5)) as sb:
        async with sb.project_client(retry_backoff=(0.001, 0.01), max_retries=8) as c:
            ids = await asyncio.gather(*(new_item(c, sb, f"n{i}") for i in range(20)))
        dropped = len(sb.calls("work_items.create")) - 20
    assert dropped > 0  # the fault happened, and the retries were replayed
    assert len(set(ids)) == 20 and len(sb.state.work_items) == 20


async def test_injected_429s_and_5xx_are_retried_or_surface() -> None:
    async with Sandbox(seed=1, time_scale=5, faults=Faults(rate_limit=0.3)) as sb:
        async with sb.project_client(retry_backoff=(0.001, 0.01), max_retries=10) as c:
            await asyncio.gather(*(new_item(c, sb, f"n{i}") for i in range(20)))
        assert sb.server.rejected_429 > 0 and len(sb.state.work_items) == 20
    async with Sandbox(faults=Faults(server_error=1.0)) as sb:
        async with sb.project_client(retry_backoff=(0.001, 0.002), max_retries=2) as c:
            with pytest.raises(ServerError):
                await c.config.list_businesses(project_key=sb.project_key)
        assert len(sb.calls("config.list_businesses")) == 3


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="probability"):
        Faults(rate_limit=2)
    with pytest.raises(ValueError, match="time_scale"):
        SandboxConfig(time_scale=0)
    with pytest.raises(TypeError):
        Sandbox(SandboxConfig(), seed=1)


def test_secrets_stay_out_of_the_repr_and_the_log() -> None:
    sandbox = Sandbox()
    assert "sandbox-plugin-secret" not in repr(sandbox)
    assert "sandbox-app-secret" not in repr(sandbox.config)


async def test_received_requests_mask_tokens_and_secrets(sb: Sandbox) -> None:
    async with sb.project_client() as c:
        await c.config.list_businesses(project_key=sb.project_key)
    text = repr(sb.received)
    assert sb.config.plugin_secret not in text
    assert all(r.headers.get("X-PLUGIN-TOKEN") in (None, "***") for r in sb.received)


def test_python_m_sandbox_prints_its_url_and_credentials() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiofeishu.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("aiofeishu sandbox listening on http://127.0.0.1:")
        rest = "".join(proc.stdout.readline() for _ in range(9))
        assert "FEISHU_PROJECT_PLUGIN_ID=MII_SANDBOX" in rest
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bad_command_line_values_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aiofeishu.sandbox", "--fault-429", "3"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "probability" in done.stderr


async def test_bad_request_from_the_sdk_is_refused_before_sending(sb: Sandbox) -> None:
    async with sb.project_client() as c:
        with pytest.raises(RequestValidationError) as info:
            await c.work_items.filter(
                project_key=sb.project_key, work_item_type_keys=["story"], page_size=500
            )
    assert info.value.field_path == "$.page_size"
    assert not sb.calls("work_items.filter")
