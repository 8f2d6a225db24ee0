"""The bulk-sync job at the vendor's real rate limits, against an in-process sandbox: `make demo`.

1. creates N work items (default 1,200) across two types, concurrently: the client's
   limiter paces them to the quota (15 calls per second per endpoint);
2. exports every work item to out/work_items.jsonl through paged filter calls;
3. mirrors them into out/work_items.sqlite (aiofeishu.sync, a first, full run);
4. updates M of them and comments on M, concurrently (separate quotas);
5. syncs the mirror again, which reads only what changed;
6. prints a summary: for each phase its calls, elapsed time and achieved rate against its
   rate-limit class's quota, and how close it came to the ideal schedule (the shortest
   time the vendor's windows allow for that many calls) as `NN% of ideal`; retries; and
   the 429s the sandbox answered (the goal is 0).

The sandbox enforces the vendor's windows in real time, so the default run takes about
100 s. --items and --changes make it smaller; --time-scale divides the windows.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiofeishu.export import export_work_items
from aiofeishu.progress import Progress
from aiofeishu.sandbox import Sandbox
from aiofeishu.sqlite_sink import SQLiteSink
from aiofeishu.sync import SyncStats, sync_work_items

TYPES = ("story", "bug")
# Re-read before the high-water mark on each sync. The library's default (300 s) would
# re-read this whole demo, which is younger than that.
OVERLAP = 2.0
RAMP = 0.004  # seconds between worker starts


class Phase:
    """Logical calls of one endpoint, their wall time, and the windows they ran under."""

    def __init__(self, name: str, windows: tuple[tuple[int, float], ...]) -> None:
        self.name, self.windows = name, windows
        self.calls = 0
        self.elapsed = 0.0

    def ideal(self) -> float:
        """The ideal sliding-window schedule's time for these calls, at the vendor's quota:
        call k (from 0) may leave once the k // limit earlier windows have passed, in every
        window. Zero when all of them fit in one window."""
        if not self.calls:
            return 0.0
        return max(((self.calls - 1) // limit) * period for limit, period in self.windows)

    def quota(self) -> str:
        return " + ".join(f"{limit}/{period:g}s" for limit, period in self.windows)

    def line(self) -> str:
        rate = self.calls / self.elapsed if self.elapsed else 0.0
        ideal = self.ideal()
        verdict = (
            f"ideal {ideal:6.2f}s  {ideal / self.elapsed:.0%} of ideal"
            if ideal and self.elapsed
            else "fits one window"
        )
        return (
            f"  {self.name:<8} {self.calls:>5} calls in {self.elapsed:7.2f}s  {rate:5.1f}/s  "
            f"quota {self.quota():<14} {verdict}"
        )


async def run_all(
    phase: Phase, jobs: list[Callable[[], Awaitable[Any]]], progress: Progress
) -> list[Any]:
    """Run ``jobs`` through one worker more than a window admits at once (enough to keep the
    quota busy), results in order. Starting every call at once would prepare them all in
    one go and hold the event loop while the first window's requests should be leaving."""
    workers = min(limit for limit, _ in phase.windows) + 1
    results: list[Any] = [None] * len(jobs)
    queue = iter(enumerate(jobs))

    async def worker() -> None:
        for i, job in queue:
            results[i] = await job()
            phase.calls += 1
            progress.update()

    async def worker_after(delay: float) -> None:
        await asyncio.sleep(delay)
        await worker()

    started = time.perf_counter()
    # Workers start a few ms apart: a window's first calls then leave one by one instead
    # of queueing in the event loop after their slots were stamped (a burst that left
    # late would make the next window's calls land inside it: 429s).
    await asyncio.gather(*(worker_after(k * RAMP) for k in range(min(workers, len(jobs)))))
    phase.elapsed = time.perf_counter() - started
    return results


async def create_items(client: Any, pk: str, phase: Phase, n: int) -> list[tuple[str, int]]:
    def job(i: int) -> Callable[[], Awaitable[Any]]:
        return lambda: client.work_items.create(
            project_key=pk,
            work_item_type_key=TYPES[i % len(TYPES)],
            name=f"Sync item {i:05d}",
            field_value_pairs=[{"field_key": "priority", "field_value": {"value": str(i % 4)}}],
        )

    with Progress("create", n, unit="work items") as bar:
        created = await run_all(phase, [job(i) for i in range(n)], bar)
    return [(TYPES[i % len(TYPES)], r.data) for i, r in enumerate(created)]


async def change_items(
    client: Any, pk: str, chosen: list[tuple[str, int]], update: Phase, comment: Phase
) -> None:
    def update_job(type_key: str, wid: int) -> Callable[[], Awaitable[Any]]:
        return lambda: client.work_items.update(
            project_key=pk,
            work_item_type_key=type_key,
            work_item_id=wid,
            update_fields=[{"field_key": "priority", "field_value": {"value": "0"}}],
        )

    def comment_job(type_key: str, wid: int) -> Callable[[], Awaitable[Any]]:
        return lambda: client.comments.create(
            project_key=pk,
            work_item_type_key=type_key,
            work_item_id=wid,
            content="Synced by aiofeishu bulk_sync",
        )

    with Progress("update+comment", 2 * len(chosen), unit="calls") as bar:
        await asyncio.gather(
            run_all(update, [update_job(t, w) for t, w in chosen], bar),
            run_all(comment, [comment_job(t, w) for t, w in chosen], bar),
        )


async def export(client: Any, pk: str, phase: Phase, out: Path, n: int) -> int:
    with Progress("export", n, unit="work items") as bar:
        started = time.perf_counter()
        stats = await export_work_items(
            client,
            project_key=pk,
            work_item_types=TYPES,
            out=out,
            on_page=lambda _type, items, _total: bar.update(items),
        )
        phase.calls, phase.elapsed = stats.pages, time.perf_counter() - started
    return stats.written


async def mirror(client: Any, pk: str, phase: Phase, db: Path) -> SyncStats:
    with SQLiteSink(db) as sink, Progress(phase.name, unit="work items") as bar:
        stats = await sync_work_items(
            client,
            project_key=pk,
            work_item_types=TYPES,
            sink=sink,
            overlap=OVERLAP,
            on_page=lambda _type, items, _total: bar.update(items),
        )
    phase.calls, phase.elapsed = stats.calls, stats.elapsed
    return stats


def mirror_matches(db: Path, sandbox_items: dict[int, dict[str, Any]]) -> bool:
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT id, updated_at FROM work_items WHERE deleted = 0"))
    return rows == {wid: item["updated_at"] for wid, item in sandbox_items.items()}


def summary(sb: Sandbox, phases: list[Phase], lines: list[str], elapsed: float) -> str:
    logical = sum(p.calls for p in phases)
    sent = sum(r.endpoint != "authen.plugin_token" for r in sb.received)
    windows = "the vendor's windows" if sb.config.time_scale == 1 else "windows ÷{scale:g}"
    return "\n".join(
        [
            f"\nbulk_sync against {sb.url} "
            f"(sandbox at {windows.format(scale=sb.config.time_scale)})",
            *lines,
            f"  calls     {logical} logical, {sent} sent, "
            f"{len(sb.calls('authen.plugin_token'))} token fetch(es)",
            f"  elapsed   {elapsed:.1f}s",
            *(p.line() for p in phases),
            f"  retries   {sent - logical}",
            f"  429s seen {sb.server.rejected_429}",
        ]
    )


async def main(items: int, changes: int, time_scale: float, out: Path, db: Path) -> int:
    db.unlink(missing_ok=True)
    async with Sandbox(time_scale=time_scale, threaded=True) as sb, sb.project_client() as client:
        pk, windows, started = sb.project_key, sb.rate_limits(), time.perf_counter()
        create, update, comment = (
            Phase(n, windows["default"]) for n in ("create", "update", "comment")
        )
        dump, sync1, sync2 = (
            Phase(n, windows["qps15_qpm450"]) for n in ("export", "sync", "resync")
        )

        ids = await create_items(client, pk, create, items)
        written = await export(client, pk, dump, out, items)
        first = await mirror(client, pk, sync1, db)
        await change_items(
            client, pk, ids[:: max(1, len(ids) // changes)][:changes], update, comment
        )
        second = await mirror(client, pk, sync2, db)
        matches = mirror_matches(db, sb.state.work_items)

        exported = sum(1 for _ in out.open("rb"))
        print(
            summary(
                sb,
                [create, dump, sync1, update, comment, sync2],
                [
                    f"  items     {len(sb.state.work_items)} created across {', '.join(TYPES)}; "
                    f"{exported} lines in {out} ({written} written)",
                    f"  changed   {update.calls} updated, {comment.calls} commented",
                    f"  mirror    {db}: first sync read {first.read}, inserted {first.inserted}; "
                    f"resync read {second.read}, updated {second.updated}; "
                    f"{'matches' if matches else 'DOES NOT MATCH'} the sandbox",
                ],
                time.perf_counter() - started,
            )
        )
        return 0 if exported == items and matches else 1


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1200, help="work items to create")
    parser.add_argument("--changes", type=int, default=240, help="items to update and comment")
    parser.add_argument("--time-scale", type=float, default=1.0, help="sandbox window divisor")
    parser.add_argument("--out", type=Path, default=Path("out/work_items.jsonl"))
    parser.add_argument("--db", type=Path, default=Path("out/work_items.sqlite"))
    args = parser.parse_args(argv)
    if args.items < 1 or not 0 < args.changes <= args.items:
        parser.error("--items must be at least 1 and --changes between 1 and --items")
    args.db.parent.mkdir(parents=True, exist_ok=True)
    return asyncio.run(main(args.items, args.changes, args.time_scale, args.out, args.db))


if __name__ == "__main__":
    sys.exit(cli())
