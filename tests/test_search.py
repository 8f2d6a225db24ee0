"""The SearchGroup builders: they rebuild the docs' examples exactly and refuse bad conditions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiofeishu import ProjectClient, search
from aiofeishu.project import requests as rq
from aiofeishu.project.variants import SEARCH_PARAM_OPERATOR_BY_PARAM_KEY, SEARCH_PARAM_VALUE
from aiofeishu.search import (
    BUSINESS,
    FEATURE_STATE_TIME,
    ROLE_OWNERS,
    WORK_ITEM_ID,
    WORK_ITEM_STATUS,
    Field,
    Op,
    and_,
    or_,
)
from tests.mock_transport import MockTransport, ok

EXAMPLES = Path(__file__).parent.parent / "specs" / "examples" / "feishu-project"


def doc_search_group(page: str, index: int) -> Any:
    examples = json.loads((EXAMPLES / f"{page}.json").read_text())["examples"]
    [example] = [e for e in examples if e["index"] == index]
    return example["json"]["search_group"]


def wire(group: rq.SearchGroup) -> Any:
    return json.loads(msgspec.json.encode(group))


def test_page_08_business_role_and_priority_example() -> None:
    # 查询(业务线等于某个值且角色pm的人员等于指定人员，或者不存在优先级属于P2)的工作项
    group = and_(
        BUSINESS.eq(["xxx"]),
        ROLE_OWNERS.eq([rq.RoleOwner(role="pm", owners=["xxx"])]),
        or_(Field("priority").has_none_of(["2"])),
    )
    assert wire(group) == doc_search_group("08-格式说明-4", 14)


def test_page_10_nested_or_of_date_ranges_example() -> None:
    # 对应筛选 JSON 格式: (start_time in range) OR (updated_at in range)
    group = or_(
        and_(*Field("start_time").between(1696089600000, 1698767999000)),
        and_(*Field("updated_at").between(1696089600000, 1698767999000)),
    )
    assert wire(group) == doc_search_group("10-格式说明-6", 15)


def test_page_08_fixed_parameters_and_compound_fields() -> None:
    created = Field("created_at")
    assert wire(
        and_(created.gt(1654064482000), created.lt(1654063482000), WORK_ITEM_STATUS.eq(["start"]))
    ) == doc_search_group("08-格式说明-4", 5)
    assert wire(
        and_(
            FEATURE_STATE_TIME.ge(
                {
                    "state_name": "Android开发估分",
                    "state_timestamp": 1701792000000,
                    "state_condition": 0,
                }
            ),
            FEATURE_STATE_TIME.le(
                {
                    "state_name": "Android开发估分",
                    "state_timestamp": 1702310399000,
                    "state_condition": 1,
                }
            ),
        )
    ) == doc_search_group("08-格式说明-4", 17)
    assert wire(and_(Field("field_ba8f2e").is_null())) == doc_search_group("08-格式说明-4", 20)
    assert wire(
        and_(Field("field_ba8f2e").meet(and_(Field("field_4396f8").eq("1")), pre_operator="EVERY"))
    ) == doc_search_group("08-格式说明-4", 21)
    assert wire(
        and_(Field("field_4396f8", pre_operator=search.PreOp.ANY).eq("1"))
    ) == doc_search_group("08-格式说明-4", 24)


def test_fixed_parameter_constants_match_the_spec() -> None:
    constants = {f.key for f in vars(search).values() if isinstance(f, Field)}
    assert constants == set(SEARCH_PARAM_VALUE) == set(SEARCH_PARAM_OPERATOR_BY_PARAM_KEY)
    assert set().union(*SEARCH_PARAM_OPERATOR_BY_PARAM_KEY.values()) <= {o.value for o in Op}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: WORK_ITEM_STATUS.lt(["x"]), "work_item_status does not support '<'"),
        (lambda: WORK_ITEM_ID.has_any_of(["not-an-id"]), "bad value for work_item_id"),
        (lambda: ROLE_OWNERS.eq({"role": "pm"}), "bad value for role_owners"),
        (lambda: Field("x").where("LIKE", "a"), "'LIKE' is not a search operator"),
        (lambda: Field("x").where(Op.IS_NULL, "a"), "IS NULL takes no value"),
        (lambda: Field("x").where(Op.EQ), "x = needs a value"),
        (lambda: Field(""), "non-empty param_key"),
        (lambda: and_(), "needs at least one condition"),
        (
            lambda: Field("c").meet(and_(Field("child", pre_operator="ANY").eq("1"))),
            "take no pre_operator",
        ),
    ],
)
def test_bad_conditions_fail_before_sending(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="not dict"):
        and_({"param_key": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a SearchGroup"):
        Field("c").meet(Field("child").eq("1"))  # type: ignore[arg-type]


def test_ordinary_fields_accept_any_value_and_null_checks() -> None:
    assert wire(and_(Field("name").matches("登录"), Field("owner").is_not_null())) == {
        "conjunction": "AND",
        "search_params": [
            {"param_key": "name", "operator": "~", "value": "登录"},
            {"param_key": "owner", "operator": "IS NOT NULL"},
        ],
    }


async def test_a_built_group_goes_on_the_wire_unchanged() -> None:
    path = "/open_api/p1/work_item/story/search/params"
    page = {"page_num": 1, "page_size": 50, "total": 0}
    transport = MockTransport(lambda request: ok([], pagination=page))
    group = and_(WORK_ITEM_ID.has_any_of([12345, 45678]))
    async with ProjectClient(
        "plugin", "secret", user_key="u", base_url="http://feishu.test", transport=transport
    ) as client:
        await client.work_items.search_by_params(
            project_key="p1", work_item_type_key="story", search_group=group, page_size=50
        )
    [seen] = transport.calls(path)
    assert seen.body["search_group"] == doc_search_group("08-格式说明-4", 7)
