"""User code in the README's pattern, type-checked by `make typecheck` (mypy --strict).

``assert_type`` fails the check when a revealed type is not the expected one; each
``# type: ignore[code]`` below must be needed (warn_unused_ignores is on for this
module), so a wrong argument that type-checks would fail the check too.
"""

from __future__ import annotations

from typing import Any, assert_type

from aiofeishu import OpenClient, ProjectClient, RequestOptions
from aiofeishu.open import models as om
from aiofeishu.project import models as m


async def readme_pattern() -> None:
    async with ProjectClient("MII_x", "secret", user_key="u") as c:
        assert_type(c, ProjectClient)
        page = await c.work_items.filter(
            project_key="p", work_item_type_keys=["story"], page_size=50
        )
        assert_type(page, m.WorkItemsFilterResponse)
        async for item in c.work_items.filter(project_key="p", work_item_type_keys=["story"]):
            assert_type(item, m.WorkItem)
        created = await c.work_items.create(project_key="p", work_item_type_key="story", name="x")
        assert_type(created, m.WorkItemsCreateResponse)
        assert_type(created.log_id, str | None)
        derived = c.with_options(user_key="u2", timeout=5.0)
        assert_type(derived, ProjectClient)
        raw = await c.request("GET", "/open_api/:project_key/x", path_params={"project_key": "p"})
        assert_type(raw, Any)
        await c.work_items.query(
            project_key="p",
            work_item_type_key="story",
            work_item_ids=["1"],  # type: ignore[list-item]
        )
        await c.work_items.create(project_key=1, work_item_type_key="s")  # type: ignore[arg-type]
        await c.work_items.query(
            project_key="p",
            work_item_type_key="story",
            work_item_ids=[1],
            request_options=RequestOptions(timeout=3.0),
        )

    async with OpenClient("cli_x", "secret") as o:
        assert_type(o, OpenClient)
        record = await o.okr.get_progress_record(progress_id="1")
        assert_type(record, om.OkrGetProgressRecordResponse)
        content = record.data.content if isinstance(record.data, om.ProgressRecord) else None
        if isinstance(content, om.ContentBlock):  # what was fetched can be sent back
            await o.okr.create_progress_record(
                source_title="t",
                source_url="https://example.test",
                target_id="1",
                target_type=2,
                content=content,
            )
