"""Fields the vendor's SDKs know beyond the doc pages: sent, decoded typed, and paged.

Examples are built from specs/vendor-sdk/fields.json (the Go SDK's wire names and types).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from aiofeishu import ProjectClient, RequestValidationError
from aiofeishu.project import models as pm
from aiofeishu.project import requests as prq
from tests import test_requests_and_errors as wire_tests
from tests.mock_transport import ScriptedTransport, json_reply
from tests.test_requests_and_errors import QUERY, project_ok, with_tokens

# The wire tests' fixtures: a scripted transport, a client per test, no credentials from the env.
wire = wire_tests.wire
project = wire_tests.project
_no_env = wire_tests._no_credentials_from_env

CREATE = "/open_api/p1/work_item/create"
TEAMS = "/open_api/p1/teams/all"
TASK_RESULT = "/open_api/task_result"
UPLOAD = "/open_api/p1/file/upload"
BUSINESSES = "/open_api/p1/business/all"

EXPANDED_WORK_ITEM: dict[str, Any] = {
    "id": 7,
    "name": "story 7",
    "multi_texts": [
        {
            "field_key": "description",
            "field_value": {
                "doc": "[]",
                "doc_text": "hello",
                "is_empty": False,
                "notify_user_list": ["u2"],
                "notify_user_type": "user",
            },
        }
    ],
    "workflow_infos": {
        "workflow_nodes": [{"id": "n1", "state_key": "start", "owner_roles": ["PM"]}],
        "connections": [{"source_state_key": "start", "target_state_key": "end"}],
        "template_id": 11,
        "version": 2,
    },
    "user_details": [{"user_key": "u2", "username": "zhang", "name_cn": "张三"}],
    "relation_fields_detail": [
        {"field_key": "rel", "detail": [{"story_id": 8, "work_item_type_key": "story"}]}
    ],
    "sub_task_parent_info": {"work_item_id": 6, "work_item_name": "parent", "node_id": "n1"},
    "parent_work_item": [
        {"relation_uuid": "r1", "parent_work_item_id": 6, "parent_node_key": "n1"}
    ],
    "compound_field_extra": [{"field_key": "cf", "field_name": "复合字段"}],
    "fields": [
        {
            "field_key": "watchers",
            "field_value": ["u2"],
            "field_name": "关注人",
            "help_description": "需求关注者",
            "update_mode": 1,
            "target_state": {"state_key": "done", "transition_id": 3},
        }
    ],
}


async def test_query_sends_detail_expand_switches_and_decodes_what_they_return(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", QUERY, json_reply(project_ok([EXPANDED_WORK_ITEM])))

    resp = await project.work_items.query(
        project_key="p1",
        work_item_type_key="story",
        work_item_ids=[7],
        expand={"need_multi_text": True, "need_parent_workitem": True, "need_workflow": True},
    )

    [call] = wire.sent("POST", QUERY)
    assert call.body["expand"] == {
        "need_multi_text": True,
        "need_parent_workitem": True,
        "need_workflow": True,
    }
    [item] = resp.data
    [text] = item.multi_texts
    assert isinstance(text, pm.MultiText)
    assert (text.field_value.doc_text, text.field_value.notify_user_list) == ("hello", ["u2"])
    assert isinstance(item.workflow_infos, pm.NodesConnections)
    assert item.workflow_infos.workflow_nodes[0].owner_roles == ["PM"]
    assert item.workflow_infos.version == 2
    assert isinstance(item.user_details[0], pm.UserDetail)
    assert item.user_details[0].name_cn == "张三"
    assert item.relation_fields_detail[0].detail[0].story_id == 8
    assert item.sub_task_parent_info.work_item_id == 6
    assert item.parent_work_item[0].parent_work_item_id == 6
    assert item.compound_field_extra[0].field_name == "复合字段"
    [pair] = item.fields
    assert (pair.field_name, pair.help_description, pair.update_mode) == ("关注人", "需求关注者", 1)
    assert pair.target_state.transition_id == 3


async def test_list_switches_are_refused_on_detail_only_expand_members(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    # filter takes the list Expand: need_parent_workitem belongs to the detail endpoints only.
    with pytest.raises(RequestValidationError, match="need_parent_workitem"):
        await project.work_items.filter(
            project_key="p1", work_item_type_keys=["story"], expand={"need_parent_workitem": True}
        )
    assert not wire.seen


async def test_field_value_pair_sends_the_sdk_members(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("POST", CREATE, json_reply(project_ok(42)))

    await project.work_items.create(
        project_key="p1",
        work_item_type_key="story",
        required_mode=1,
        field_value_pairs=[
            prq.FieldValuePair(
                field_key="state",
                field_value="done",
                field_name="状态",
                help_description="选择状态",
                update_mode=2,
                target_state=prq.TargetState(state_key="done", transition_id=3),
            )
        ],
    )

    [call] = wire.sent("POST", CREATE)
    assert call.body == {
        "work_item_type_key": "story",
        "required_mode": 1,
        "field_value_pairs": [
            {
                "field_key": "state",
                "field_value": "done",
                "field_name": "状态",
                "help_description": "选择状态",
                "update_mode": 2,
                "target_state": {"state_key": "done", "transition_id": 3},
            }
        ],
    }


async def test_a_mistyped_sdk_member_is_refused_before_sending(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with pytest.raises(RequestValidationError, match="update_mode"):
        await project.work_items.create(
            project_key="p1",
            work_item_type_key="story",
            field_value_pairs=[{"field_key": "x", "update_mode": "APPEND"}],
        )
    assert not wire.seen


def teams_page(first: int, count: int, has_more: bool) -> dict[str, Any]:
    teams = [
        {"team_id": i, "team_name": f"t{i}", "members": [f"u{i}"]}
        for i in range(first, first + count)
    ]
    return project_ok(teams, has_more=has_more)


async def test_teams_page_by_offset_until_has_more_is_false(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("GET", TEAMS, json_reply(teams_page(0, 2, True)))
    wire.add("GET", TEAMS, json_reply(teams_page(2, 2, True)))
    wire.add("GET", TEAMS, json_reply(teams_page(4, 1, False)))

    teams = [t async for t in project.users.list_teams(project_key="p1", limit=2)]

    assert [t.team_id for t in teams] == [0, 1, 2, 3, 4]
    assert teams[4].members == ["u4"]
    sent = [c.query for c in wire.sent("GET", TEAMS)]
    assert sent == [{"limit": "2"}, {"limit": "2", "offset": "2"}, {"limit": "2", "offset": "4"}]


async def test_awaiting_teams_fetches_the_page_asked_for(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add("GET", TEAMS, json_reply(teams_page(10, 1, False)))

    page = await project.users.list_teams(project_key="p1", offset=10, limit=5)

    assert [t.team_id for t in page.data] == [10]
    assert page.has_more is False


@pytest.mark.parametrize(
    "payload",
    [
        # page 28: the progress members at the top level
        {"err_code": 0, "task_id": "t1", "task_status": "SUCCESS", "total": 3},
        # the Go SDK: the same members under data
        project_ok({"task_id": "t1", "task_status": "SUCCESS", "total": 3}),
    ],
    ids=["page-28-top-level", "go-sdk-data"],
)
async def test_task_result_decodes_either_shape(
    wire: ScriptedTransport, project: ProjectClient, payload: dict[str, Any]
) -> None:
    with_tokens(wire)
    wire.add("GET", TASK_RESULT, json_reply(payload))

    resp = await project.work_items.get_task_result(task_id="t1")

    progress = resp if resp.task_id else resp.data
    assert (progress.task_id, progress.task_status, progress.total) == ("t1", "SUCCESS", 3)


@pytest.mark.parametrize("data", ["https://x/1.png", ["https://x/1.png", "https://x/2.png"]])
async def test_upload_file_data_is_a_link_or_a_list_of_links(
    wire: ScriptedTransport, project: ProjectClient, data: Any
) -> None:
    with_tokens(wire)
    wire.add("POST", UPLOAD, json_reply(project_ok(data)))

    resp = await project.attachments.upload_file(project_key="p1", file=b"png")

    assert resp.data == data


async def test_business_order_keeps_ints_and_accepts_floats(
    wire: ScriptedTransport, project: ProjectClient
) -> None:
    with_tokens(wire)
    wire.add(
        "GET",
        BUSINESSES,
        json_reply(project_ok([{"id": "b1", "order": 3}, {"id": "b2", "order": 2.5}])),
    )

    resp = await project.config.list_businesses(project_key="p1")

    orders = [b.order for b in resp.data]
    assert orders == [3, 2.5]
    assert isinstance(orders[0], int)


def test_review_owner_is_a_user_key_or_a_person() -> None:
    # Batch-query gives a user_key, the workflow detail a person object (both Go SDK shapes).
    by_key = msgspec.json.decode(b'{"owner": "u1"}', type=pm.FinishedOwnerOpinionInfo)
    person = msgspec.json.decode(
        b'{"owner": {"id": "1", "name": "Li", "department": {"name": "R&D"}}}',
        type=pm.FinishedOwnerOpinionInfo,
    )
    assert by_key.owner == "u1"
    assert isinstance(person.owner, pm.Owner)
    assert person.owner.department.name == "R&D"
