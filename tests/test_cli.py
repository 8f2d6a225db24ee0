"""The `aiofeishu` command end to end, as a subprocess against an in-process sandbox."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiofeishu.sandbox import Sandbox


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(time_scale=10) as sandbox:
        yield sandbox


def env_for(sb: Sandbox) -> dict[str, str]:
    c = sb.config
    return {
        **os.environ,
        "FEISHU_PROJECT_BASE_URL": sb.url,
        "FEISHU_PROJECT_PLUGIN_ID": c.plugin_id,
        "FEISHU_PROJECT_PLUGIN_SECRET": c.plugin_secret,
        "FEISHU_PROJECT_USER_KEY": c.user_key,
        "FEISHU_BASE_URL": sb.url,
        "FEISHU_APP_ID": c.app_id,
        "FEISHU_APP_SECRET": c.app_secret,
    }


async def run(sb: Sandbox | None, *args: str) -> tuple[int, str, str]:
    # Asynchronously, so the sandbox on this event loop keeps answering meanwhile.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiofeishu.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env_for(sb) if sb else {**os.environ},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def create_items(sb: Sandbox, n: int, type_key: str = "story") -> list[int]:
    async with sb.project_client() as c:
        results = await asyncio.gather(
            *(
                c.work_items.create(
                    project_key=sb.project_key, work_item_type_key=type_key, name=f"{type_key} {i}"
                )
                for i in range(n)
            )
        )
    return [int(r.data) for r in results]


async def test_endpoints_lists_the_registry() -> None:
    code, out, err = await run(None, "endpoints")
    assert code == 0 and len(out.strip().splitlines()) == 135 and "135 endpoints" in err
    code, out, _ = await run(None, "endpoints", "--group", "okr")
    assert [line.split()[0] for line in out.splitlines()] == [
        "okr.create_progress_record",
        "okr.get_progress_record",
    ]
    code, _, err = await run(None, "endpoints", "--group", "nope")
    assert code == 2 and "groups:" in err


async def test_call_with_pairs_and_json(sb: Sandbox) -> None:
    code, out, err = await run(
        sb,
        "call",
        "work_items.create",
        "project_key=sandbox",
        "work_item_type_key=story",
        "name=From the CLI",
    )
    assert code == 0, err
    wid = json.loads(out)["data"]
    assert sb.state.work_items[wid]["name"] == "From the CLI"
    code, out, err = await run(
        sb,
        "call",
        "work_items.query",
        "--json",
        json.dumps(
            {"project_key": "sandbox", "work_item_type_key": "story", "work_item_ids": [wid]}
        ),
    )
    assert code == 0, err
    assert json.loads(out)["data"][0]["id"] == wid


async def test_call_errors_print_code_log_id_and_hint(sb: Sandbox) -> None:
    code, out, err = await run(
        sb,
        "call",
        "work_items.query",
        "project_key=sandbox",
        "work_item_type_key=story",
        "work_item_ids=[1]",
    )
    assert code == 1 and out == ""
    assert "error 30005" in err and "log_id: " in err and "hint: " in err
    code, _, err = await run(sb, "call", "work_items.query", "--json", "[1]")
    assert code == 2 and "JSON object" in err
    code, _, err = await run(sb, "call", "work_items.query", "project_key=sandbox")
    assert code == 2 and "missing" in err  # a usage error: refused before sending


async def test_open_platform_call(sb: Sandbox) -> None:
    code, out, err = await run(
        sb,
        "call",
        "task.patch",
        "task_id=t1",
        "user_id_type=open_id",
        'task={"summary": "cli"}',
        'update_fields=["summary"]',
    )
    assert code == 0, err
    assert json.loads(out)["data"]["task"]["summary"] == "cli"


async def test_export_writes_every_item_once(sb: Sandbox, tmp_path: Path) -> None:
    ids = await create_items(sb, 120) + await create_items(sb, 30, "bug")
    out = tmp_path / "items.jsonl"
    code, _, err = await run(
        sb,
        "export",
        "work-items",
        "--project-key",
        "sandbox",
        "--type",
        "story",
        "--type",
        "bug",
        "--out",
        str(out),
        "--page-size",
        "50",
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(item["id"] for item in lines) == sorted(ids)
    assert "150 work items written" in err
    assert len(sb.calls("work_items.filter")) == 3 + 1  # 120 stories in 3 pages, 30 bugs in 1


async def test_a_resumed_export_writes_no_duplicate_lines(sb: Sandbox, tmp_path: Path) -> None:
    await create_items(sb, 130)
    full = tmp_path / "full.jsonl"
    args = [
        "export",
        "work-items",
        "--project-key",
        "sandbox",
        "--type",
        "story",
        "--page-size",
        "50",
    ]
    assert (await run(sb, *args, "--out", str(full)))[0] == 0
    whole = full.read_bytes()
    lines = whole.splitlines(keepends=True)

    # A run that died while writing page 3: two pages recorded, half a line after them.
    part = tmp_path / "part.jsonl"
    two_pages = b"".join(lines[:100])
    part.write_bytes(two_pages + lines[100][:40])
    (tmp_path / "part.jsonl.progress").write_text(
        json.dumps({"types": {"story": 2}, "size": len(two_pages)})
    )
    filters_before = len(sb.calls("work_items.filter"))
    code, _, err = await run(sb, *args, "--out", str(part), "--resume")
    assert code == 0, err
    assert part.read_bytes() == whole
    assert len(sb.calls("work_items.filter")) - filters_before == 1  # only page 3 again

    # Resuming a finished export asks for the page after the last one and adds nothing.
    code, _, err = await run(sb, *args, "--out", str(part), "--resume")
    assert code == 0 and part.read_bytes() == whole and "0 work items written" in err

    # Without a usable page record (here: none), ids already in the file are skipped.
    (tmp_path / "part.jsonl.progress").write_text(json.dumps({"types": {}, "size": len(whole)}))
    code, _, err = await run(sb, *args, "--out", str(part), "--resume")
    assert code == 0 and part.read_bytes() == whole and "(130 already there)" in err


async def test_export_refuses_a_broken_progress_file(sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    out.write_text("")
    (tmp_path / "x.jsonl.progress").write_text("not json")
    code, _, err = await run(
        sb,
        "export",
        "work-items",
        "--project-key",
        "sandbox",
        "--type",
        "story",
        "--out",
        str(out),
        "--resume",
    )
    assert code == 1 and "not a progress file" in err


async def test_sandbox_subcommand_checks_its_options() -> None:
    code, _, err = await run(None, "sandbox", "--time-scale", "0")
    assert code == 2 and "time_scale" in err
