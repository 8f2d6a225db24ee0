"""One raw page of the work-item filter: what export and sync both read.

The raw items, not the decoded models: fields the models do not know yet are kept too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiofeishu._project_client import ProjectClient
from aiofeishu.errors import FeishuError, ResultLimitError
from aiofeishu.project.endpoints import WORK_ITEMS_FILTER

# From the spec (page 18): at most 200 a page, and an error past 200,000 results.
assert WORK_ITEMS_FILTER.pagination is not None
PAGE_SIZE = WORK_ITEMS_FILTER.pagination.max_page_size or 200
MAX_TOTAL = WORK_ITEMS_FILTER.pagination.max_total or 200_000


@dataclass(frozen=True, slots=True)
class FilterPage:
    items: list[dict[str, Any]]
    total: int | None  # as the server counts the whole result, when it says


async def read_filter_page(
    client: ProjectClient,
    *,
    project_key: str,
    type_key: str,
    page_num: int,
    page_size: int,
    **conditions: Any,
) -> FilterPage:
    """Page ``page_num`` of the work items of ``type_key`` matching ``conditions``
    (filter arguments such as ``updated_at={"start": ms}``)."""
    page = await client.work_items.filter(
        project_key=project_key,
        work_item_type_keys=[type_key],
        page_num=page_num,
        page_size=page_size,
        **conditions,
    )
    body = page.raw_json() or {}
    items = body.get("data") or []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int):
            raise FeishuError(
                f"{WORK_ITEMS_FILTER.key}: a work item without an integer id: {str(item)[:200]!r}"
            )
    total = (body.get("pagination") or {}).get("total")
    total = total if isinstance(total, int) else None
    if total is not None and total > MAX_TOTAL:
        raise ResultLimitError(
            f"{WORK_ITEMS_FILTER.key}: {total} {type_key} items exceed the {MAX_TOTAL} the API "
            "can page through; split the job by work item type or time range"
        )
    return FilterPage(items, total)
