"""The `aiofeishu` command end to end, as a subprocess against an in-process sandbox."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiofeishu.export import export_work_items
from aiofeishu.sandbox import Faults, Sandbox


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


EXPORT_STORIES = ["export", "work-items", "--project-key", "sandbox", "--type", "story"]


class Stop(Exception):
    pass


async def test_a_resumed_export_after_deletions_has_every_item_once(
    sb: Sandbox, tmp_path: Path
) -> None:
    ids = await create_items(sb, 130)
    out = tmp_path / "items.jsonl"
    pages = 0

    def die_after_two_pages(_type: str, _n: int, _total: int) -> None:
        nonlocal pages
        pages += 1
        if pages == 2:
            raise Stop

    async with sb.project_client() as c:
        with pytest.raises(Stop):
            await export_work_items(
                c,
                project_key="sandbox",
                work_item_types=["story"],
                out=out,
                page_size=50,
                on_page=die_after_two_pages,
            )
        for wid in ids[:10]:  # 10 of the items already written are deleted meanwhile
            await c.work_items.delete(
                project_key="sandbox", work_item_type_key="story", work_item_id=wid
            )
    with out.open("ab") as f:
        f.write(b'{"id": 60')  # and the dying run left half a line
    filters = len(sb.calls("work_items.filter"))
    code, _, err = await run(
        sb, *EXPORT_STORIES, "--page-size", "50", "--out", str(out), "--resume"
    )
    assert code == 0, err
    got = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    # Every item once: the 120 left, and the 10 deleted after they were written (as written).
    assert len(got) == len(set(got)) == 130 and set(got) == set(ids)
    # From the last item written (created_at), not by page number: one or two pages.
    assert 1 <= len(sb.calls("work_items.filter")) - filters <= 2
    whole = out.read_bytes()

    # Resuming a finished export asks nothing and adds nothing.
    filters = len(sb.calls("work_items.filter"))
    code, _, err = await run(sb, *EXPORT_STORIES, "--out", str(out), "--resume")
    assert code == 0 and out.read_bytes() == whole and "0 work items written" in err
    assert len(sb.calls("work_items.filter")) == filters

    # Without a record of the type, it is read again and ids already in the file skipped.
    progress = tmp_path / "items.jsonl.progress"
    progress.write_text(json.dumps({"version": 2, "size": len(whole), "types": {}}))
    code, _, err = await run(sb, *EXPORT_STORIES, "--out", str(out), "--resume")
    assert code == 0 and out.read_bytes() == whole and "(120 already there)" in err


async def test_export_resumes_from_the_start_when_the_order_was_not_oldest_first(
    sb: Sandbox, tmp_path: Path
) -> None:
    ids = await create_items(sb, 60)
    out = tmp_path / "items.jsonl"
    lines = [json.dumps({"id": wid}) for wid in ids[:20]]
    out.write_text("\n".join(lines) + "\n")
    record = {"done": False, "after": [1, ids[19]], "ordered": False}
    (tmp_path / "items.jsonl.progress").write_text(
        json.dumps({"version": 2, "size": out.stat().st_size, "types": {"story": record}})
    )
    code, _, err = await run(
        sb, *EXPORT_STORIES, "--page-size", "50", "--out", str(out), "--resume"
    )
    assert code == 0, err
    got = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(got) == sorted(ids) and "40 work items written" in err
    created_at = [c.body.get("created_at") for c in sb.calls("work_items.filter")]
    assert created_at == [None, None]  # no created_at condition: both pages from the start


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


def test_key_value_takes_the_parameters_declared_type() -> None:
    from aiofeishu._cli_args import ArgumentError, coerce_pairs
    from aiofeishu.open.endpoints import ALL as OPEN_ALL
    from aiofeishu.project.endpoints import ALL as PROJECT_ALL

    by_name = {f"{e.group}.{e.name}": e for e in (*PROJECT_ALL, *OPEN_ALL)}
    okr_get, task_patch = by_name["okr.get_progress_record"], by_name["task.patch"]
    work_filter = by_name["work_items.filter"]
    assert coerce_pairs(okr_get, ["progress_id=6000000600", "user_id_type=open_id"]) == {
        "progress_id": "6000000600",  # a string parameter stays a string
        "user_id_type": "open_id",  # a literal, matched
    }
    assert coerce_pairs(
        work_filter,
        [
            "page_size=50",  # integer
            "work_item_ids=1,2",  # list of integers, the shell's way
            'user_keys=["a", "b"]',  # list as JSON
            "work_item_type_keys=story",  # a one-item list
            'updated_at={"start": 1}',  # object
            'expand={"need_workflow": true}',
        ],
    ) == {
        "page_size": 50,
        "work_item_ids": [1, 2],
        "user_keys": ["a", "b"],
        "work_item_type_keys": ["story"],
        "updated_at": {"start": 1},
        "expand": {"need_workflow": True},
    }
    create_record = by_name["okr.create_progress_record"]
    bool_params = [
        f.name
        for f in __import__("msgspec")
        .inspect.type_info(by_name["work_items.freeze"].request_type)
        .fields
        if f.name == "is_frozen"
    ]
    assert bool_params == ["is_frozen"]
    assert coerce_pairs(by_name["work_items.freeze"], ["is_frozen=false"]) == {"is_frozen": False}
    assert coerce_pairs(task_patch, ['task={"summary": "x"}'])["task"] == {"summary": "x"}
    for bad, message in [
        ("page_size=fifty", "expected an integer"),
        ("work_item_ids=1,x", "expected an integer"),
        ("updated_at=[1]", "expected a JSON object"),
        ("nope=1", "has no parameter 'nope'"),
        ("page_size", "is not key=value"),
    ]:
        with pytest.raises(ArgumentError, match=message):
            coerce_pairs(work_filter, [bad])
    with pytest.raises(ArgumentError, match="expected true or false"):
        coerce_pairs(by_name["work_items.freeze"], ["is_frozen=maybe"])
    with pytest.raises(ArgumentError, match="expected one of open_id"):
        coerce_pairs(okr_get, ["user_id_type=email"])
    assert create_record.group == "okr"


async def test_call_a_numeric_looking_string_and_per_call_options(sb: Sandbox) -> None:
    async with sb.open_client() as c:
        record = await c.okr.create_progress_record(
            source_title="t",
            source_url="https://x.invalid",
            target_id="1",
            target_type=2,
            content={"blocks": []},
        )
    progress_id = record.data.progress_id
    assert progress_id.isdigit()
    code, out, err = await run(sb, "call", "okr.get_progress_record", f"progress_id={progress_id}")
    assert code == 0, err
    assert json.loads(out)["data"]["progress_id"] == progress_id
    code, _, err = await run(
        sb,
        "call",
        "work_items.filter",
        "project_key=sandbox",
        "work_item_type_keys=story",
        "--user-key",
        "someone-else",
        "--max-retries",
        "0",
    )
    assert code == 0, err
    assert sb.received[-1].headers["X-USER-KEY"] == "someone-else"
    code, _, err = await run(sb, "call", "work_items.filter", "page_size=x")
    assert code == 2 and "expected an integer" in err


async def test_call_all_writes_one_item_a_line(sb: Sandbox) -> None:
    ids = await create_items(sb, 25)
    code, out, err = await run(
        sb,
        "call",
        "work_items.filter",
        "project_key=sandbox",
        "work_item_type_keys=story",
        "page_size=10",
        "--all",
    )
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == sorted(ids)
    assert len(sb.calls("work_items.filter")) == 3
    code, _, err = await run(sb, "call", "work_items.create", "--all")
    assert code == 2 and "not paged" in err


async def test_version_endpoint_detail_and_exit_codes_in_help() -> None:
    from aiofeishu import __version__

    code, out, _ = await run(None, "--version")
    assert code == 0 and __version__ in out
    code, out, _ = await run(None, "endpoints", "work_items.filter")
    assert code == 0 and "doc: feishu-project/18-工作项-1.md" in out
    assert "15 per 1s, 450 per 60s" in out
    page_size = next(line for line in out.splitlines() if line.split()[:1] == ["page_size"])
    assert (
        page_size.split()[1:5] == ["body", "integer", "optional", ">=1,"] and "<=200" in page_size
    )
    code, out, _ = await run(None, "--help")
    assert code == 0 and "Exit codes:" in out and "refused before anything was sent" in out
    code, _, err = await run(None, "endpoints", "nope.nothing")
    assert code == 2 and "no endpoint" in err


def sync_args(db: Path, *types: str) -> list[str]:
    return [
        *("sync", "work-items", "--project-key", "sandbox", "--db", str(db)),
        *(arg for type_key in types for arg in ("--type", type_key)),
    ]


async def test_sync_command_mirrors_and_catches_up(sb: Sandbox, tmp_path: Path) -> None:
    ids = await create_items(sb, 30) + await create_items(sb, 5, "bug")
    db = tmp_path / "items.sqlite"
    args = [*sync_args(db, "story", "bug"), "--page-size", "20", "--overlap", "0"]
    code, _, err = await run(sb, *args)
    assert code == 0, err
    assert "read 35, inserted 35, updated 0, deleted 0" in err and "3 calls" in err
    async with sb.project_client() as c:
        await c.work_items.delete(
            project_key="sandbox", work_item_type_key="story", work_item_id=ids[0]
        )
    code, _, err = await run(sb, *args)
    assert code == 0 and "read 0, inserted 0" in err and "2 calls" in err
    code, _, err = await run(sb, *args, "--full")
    assert code == 0 and "deleted 1" in err
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT deleted FROM work_items WHERE id = ?", (ids[0],)
        ).fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM work_items WHERE deleted = 0").fetchone() == (34,)


async def test_a_killed_sync_command_is_caught_up_by_the_next_run(tmp_path: Path) -> None:
    async with Sandbox(time_scale=20, faults=Faults(latency=0.05)) as sb:
        await create_items(sb, 200)
        db = tmp_path / "items.sqlite"
        args = [*sync_args(db, "story"), "--page-size", "10"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aiofeishu.cli",
            *args,
            env=env_for(sb),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        while not db.exists() or _count(db) < 30:  # a few pages in, of 20
            await asyncio.sleep(0.02)
        proc.kill()
        await proc.wait()
        assert _count(db) % 10 == 0 and _count(db) < 200  # whole pages only
        code, _, err = await run(sb, *args)
        assert code == 0, err
        with sqlite3.connect(db) as conn:
            stored = dict(conn.execute("SELECT id, updated_at FROM work_items WHERE deleted = 0"))
        assert stored == {wid: item["updated_at"] for wid, item in sb.state.work_items.items()}


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM work_items").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
