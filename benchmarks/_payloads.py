"""Response bodies shaped like the vendor's documented examples, scaled up.

The OKR body follows the get-progress-record example (open-platform/okr-progress-record-get.md):
rich text as blocks → paragraph → elements → textRun with a style. The work-item page follows
the filter example (feishu-project/18-工作项-1.md), each item carrying 20 fields of mixed types.
"""

from __future__ import annotations

import json
import re
from typing import Any

PROGRESS_ID = "7046518160811425812"
OKR_PARAGRAPHS = 20
OKR_RUNS_PER_PARAGRAPH = 3
FIELDS_PER_ITEM = 20

# One sentence per run (mixed Chinese and ASCII, as real progress notes are).
_SENTENCE = "接口联调完成，P99 延迟降至 120 ms，下周灰度。"


def _text_run(paragraph: int, run: int) -> dict[str, Any]:
    return {
        "type": "textRun",
        "textRun": {
            "text": f"{paragraph + 1}.{run + 1} {_SENTENCE}",
            "style": {
                "bold": run == 0,
                "textColor": {"red": 51 * run, "green": 102, "blue": 255 - 40 * run, "alpha": 1.0},
            },
        },
    }


def okr_progress_record() -> dict[str, Any]:
    """The get-progress-record response: 20 paragraphs x 3 styled text runs (about 13 KB)."""
    blocks = [
        {
            "type": "paragraph",
            "paragraph": {
                "style": {"list": {"type": "number", "indentLevel": 1, "number": p + 1}},
                "elements": [_text_run(p, r) for r in range(OKR_RUNS_PER_PARAGRAPH)],
            },
        }
        for p in range(OKR_PARAGRAPHS)
    ]
    return {
        "code": 0,
        "msg": "success",
        "data": {
            "progress_id": PROGRESS_ID,
            "modify_time": "1640677213095",
            "content": {"blocks": blocks},
            "progress_rate": {"percent": 62.5, "status": 0},
        },
    }


def okr_progress_record_small() -> dict[str, Any]:
    """The doc page's own response example (about 400 bytes): a cheap body for per-call overhead."""
    return {
        "code": 0,
        "msg": "success",
        "data": {
            "progress_id": PROGRESS_ID,
            "modify_time": "1640677213095",
            "content": {
                "blocks": [
                    {
                        "type": "paragraph",
                        "paragraph": {
                            "elements": [
                                {"type": "textRun", "textRun": {"text": " ", "style": {}}},
                                {
                                    "type": "person",
                                    "person": {
                                        "openId": "ou_b1ba99a5340289d7af30839fd95ce1ee",
                                        "userId": "7012194140645721644",
                                    },
                                },
                            ]
                        },
                    }
                ]
            },
        },
    }


def _fields(i: int) -> list[dict[str, Any]]:
    """20 field pairs cycling through the documented field types (strings, numbers, objects, lists)."""
    user = f"70125145551{i % 1000:08d}"
    values: list[tuple[str, str, Any]] = [
        ("description", "text", f"需求 {i} 的背景与验收标准"),
        ("priority", "select", {"label": "P1", "value": "1"}),
        ("story_points", "number", float(i % 13)),
        ("is_blocking", "bool", i % 7 == 0),
        ("planned_start", "date", 1654156400000 + i * 86_400_000),
        ("planned_end", "date", 1654761200000 + i * 86_400_000),
        ("owner", "user", user),
        ("watchers", "multi_user", [user, "7012514555184152596", "7009146719661228031"]),
        (
            "labels",
            "multi_select",
            [{"label": "backend", "value": "be"}, {"label": "perf", "value": "perf"}],
        ),
        ("spec_link", "link", f"https://example.feishu.cn/docx/doc{i}"),
        ("business", "business", "6a7b8c9d0e1f2a3b4c5d6e7f"),
        (
            "role_owners",
            "role_owners",
            [{"role": "PM", "owners": [user]}, {"role": "QA", "owners": None}],
        ),
        ("aborted", "aborted", {"is_aborted": False, "reason": ""}),
        ("schedule", "schedule", {"start_time": 1654156400000, "end_time": 1654761200000}),
        ("related_bug", "work_item_related_select", 900_000 + i),
        ("related_tasks", "work_item_related_multi_select", [800_000 + i, 800_001 + i]),
        ("estimate_hours", "number", 12.5),
        ("release", "radio", {"label": "v2.3", "value": "v23"}),
        ("signed_off", "signal", None),
        ("template", "work_item_template", {"id": 3021, "name": "标准需求", "version": 4}),
    ]
    assert len(values) == FIELDS_PER_ITEM
    return [
        {"field_key": key, "field_alias": "", "field_type_key": type_key, "field_value": value}
        for key, type_key, value in values
    ]


def work_item(i: int) -> dict[str, Any]:
    """One work item as the filter endpoint returns it."""
    return {
        "id": 1_000_000 + i,
        "name": f"需求 {i}: 支持批量导出",
        "work_item_type_key": "story",
        "project_key": "60acd5610444ba031b503055",
        "simple_name": "bench",
        "template_type": "control",
        "template_id": 3021,
        "pattern": "Node",
        "sub_stage": "started",
        "work_item_status": {"state_key": "doing", "is_archived_state": False},
        "current_nodes": [{"id": "state_1", "name": "开发中", "owners": ["7012514555133820947"]}],
        "state_times": [
            {"state_key": "started", "name": "开始", "start_time": 1654156400804, "end_time": 0},
        ],
        "created_by": "7009146719661228031",
        "updated_by": "7009146719661228031",
        "created_at": 1633776613033 + i,
        "updated_at": 1633776613033 + i,
        "fields": _fields(i),
    }


def work_item_page(
    items: list[dict[str, Any]], page_num: int, page_size: int, total: int
) -> dict[str, Any]:
    return {
        "data": items,
        "pagination": {"page_num": page_num, "page_size": page_size, "total": total},
        "err": {},
        "err_msg": "",
        "err_code": 0,
    }


def work_item_filter_page(size: int = 200) -> dict[str, Any]:
    """A full filter page: ``size`` items of 20 fields each."""
    return work_item_page([work_item(i) for i in range(size)], 1, size, size)


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the vendor sends it."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def snake_keys(value: Any) -> Any:
    """The same payload with camelCase keys in snake_case (textRun → text_run), keys only."""
    if isinstance(value, dict):
        return {
            re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", k).lower(): snake_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [snake_keys(v) for v in value]
    return value
