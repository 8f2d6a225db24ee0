"""The bulk-sync job, run against an in-process sandbox: `make demo`.

1. creates N work items (default 2,000) across two work item types, concurrently — the
   client's limiter paces them to the quota;
2. exports every work item to out/work_items.jsonl through paged filter calls, a page
   written as it arrives;
3. updates 200 of them and comments on 200, concurrently (separate quotas);
4. prints a summary: items, calls, elapsed, achieved calls/s against the quota, retries,
   429s seen (the goal is 0).

The sandbox enforces the vendor's windows divided by --time-scale (default 4: 15 calls per
0.25 s instead of per second) so the run takes well under two minutes; the quota printed is
the scaled one the run was held to.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiofeishu.export import export_work_items
from aiofeishu.progress import Progress
from aiofeishu.sandbox import Sandbox

TYPES = ("story", "bug")


class Phase:
    """Logical calls of one endpoint, their wall time, and the quota they ran under."""

    def __init__(self, name: str, endpoint: str, windows: tuple[tuple[int, float], ...]) -> None:
        self.name, self.endpoint, self.windows = name, endpoint, windows
        self.calls = 0
        self.elapsed = 0.0

    def ideal(self) -> float:
        """The shortest time the quota allows for these calls: the k-th call may leave
        once k - limit calls have been out for a whole period, in every window."""
        return (
            max(((self.calls - 1) // limit) * period for limit, period in self.windows)
            if self.calls
            else 0.0
        )

    def line(self) -> str:
        rate = self.calls / self.elapsed if self.elapsed else 0.0
        quota = min(limit / period for limit, period in self.windows)
        ideal = self.ideal()
        efficiency = f"{ideal / self.elapsed:4.0%} of ideal" if ideal else "fits one window"
        return (
            f"  {self.name:<9} {self.calls:>6} calls in {self.elapsed:6.1f}s  "
            f"{rate:6.1f}/s, quota {quota:.0f}/s, {efficiency}"
        )


async def run_all(
    phase: Phase, jobs: list[Callable[[], Awaitable[Any]]], progress: Progress
) -> list[Any]:
    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        result = await job()
        phase.calls += 1
        progress.update()
        return result

    started = time.perf_counter()
    results = await asyncio.gather(*(one(job) for job in jobs))
    phase.elapsed = time.perf_counter() - started
    return list(results)


async def main(items: int, time_scale: float, out: Path) -> int:
    async with Sandbox(time_scale=time_scale, threaded=True) as sb, sb.project_client() as client:
        pk = sb.project_key
        started = time.perf_counter()
        windows = sb.rate_limits()
        create = Phase("create", "work_items.create", windows["default"])
        export = Phase("export", "work_items.filter", windows["qps15_qpm450"])
        update = Phase("update", "work_items.update", windows["default"])
        comment = Phase("comment", "comments.create", windows["default"])

        def create_job(i: int) -> Callable[[], Awaitable[Any]]:
            type_key = TYPES[i % len(TYPES)]
            return lambda: client.work_items.create(
                project_key=pk,
                work_item_type_key=type_key,
                name=f"Sync item {i:05d}",
                field_value_pairs=[{"field_key": "priority", "field_value": {"value": str(i % 4)}}],
            )

        with Progress("create", items, unit="work items") as bar:
            created = await run_all(create, [create_job(i) for i in range(items)], bar)
        ids = [(TYPES[i % len(TYPES)], r.data) for i, r in enumerate(created)]

        with Progress("export", items, unit="work items") as bar:
            t0 = time.perf_counter()
            stats = await export_work_items(
                client,
                project_key=pk,
                work_item_types=TYPES,
                out=out,
                on_page=lambda _type, n, _total: bar.update(n),
            )
            export.calls, export.elapsed = stats.pages, time.perf_counter() - t0

        chosen = ids[:: max(1, len(ids) // 200)][:200]

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
        elapsed = time.perf_counter() - started

        lines = sum(1 for _ in out.open("rb"))
        logical = sum(p.calls for p in (create, export, update, comment))
        sent = sum(len(sb.calls(p.endpoint)) for p in (create, export, update, comment))
        print(
            f"\nbulk_sync against {sb.url} (sandbox windows ÷{time_scale:g})\n"
            f"  items      {len(sb.state.work_items)} created across {', '.join(TYPES)}; "
            f"{lines} lines in {out} ({stats.written} written)\n"
            f"  updated    {update.calls}, commented {comment.calls}\n"
            f"  calls      {logical} logical, {sent} sent, "
            f"{len(sb.calls('authen.plugin_token'))} token fetch(es)\n"
            f"  elapsed    {elapsed:.1f}s\n"
            + "\n".join(p.line() for p in (create, export, update, comment))
            + f"\n  retries    {sent - logical}\n"
            f"  429s seen  {sb.server.rejected_429}"
            + "".join(
                f"\n    {p.name}: {sum(r.status == 429 for r in sb.calls(p.endpoint))}"
                for p in (create, export, update, comment)
                if any(r.status == 429 for r in sb.calls(p.endpoint))
            )
        )
        # 429s are the backstop (retried, counted above), not a failure of the job.
        return 0 if lines == items and len(sb.state.work_items) == items else 1


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000, help="work items to create")
    parser.add_argument("--time-scale", type=float, default=4.0, help="sandbox window divisor")
    parser.add_argument("--out", type=Path, default=Path("out/work_items.jsonl"))
    args = parser.parse_args(argv)
    if args.items < 1:
        parser.error("--items must be at least 1")
    return asyncio.run(main(args.items, args.time_scale, args.out))


if __name__ == "__main__":
    sys.exit(cli())
