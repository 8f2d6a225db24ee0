"""Streaming memory: peak RSS growth while iterating 200,000 work items through paged filter calls.

A local server (its own process) pages work_items.filter through 200,000 generated items,
200 per page (1,000 pages, each item carrying 20 fields). Each run is a fresh interpreter
that creates the client and then does ``async for item in client.work_items.filter(...)``;
it reports its peak RSS (VmHWM) minus its RSS just before the loop. Rate limits are lifted.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

from aiofeishu import ProjectClient
from benchmarks._report import ROOT, Section, Target, cli, fmt_mb, median, peak_rss_mb, rss_mb
from benchmarks._servers import ServerConfig, serve

FULL_ITEMS, SMOKE_ITEMS = 200_000, 2_000
FULL_RUNS, SMOKE_RUNS = 3, 1
PAGE_SIZE = 200  # the endpoint's max_page_size: the client asks for it by default
LIFTED = {"qps15_qpm450": None}  # no waiting: this measures memory, not the quota


async def iterate(url: str) -> dict[str, float]:
    """The measured loop (runs in the child interpreter)."""
    async with ProjectClient(
        "plugin-bench", "bench-secret", user_key="u-bench", base_url=url, rate_limits=LIFTED
    ) as client:
        items = fields = 0
        before = rss_mb()
        started = time.perf_counter()
        async for item in client.work_items.filter(
            project_key="bench", work_item_type_keys=["story"]
        ):
            items += 1
            fields += len(item.fields)  # touch every item, as a sync job would
        elapsed = time.perf_counter() - started
    return {
        "items": items,
        "fields": fields,
        "growth_mb": peak_rss_mb() - before,
        "before_mb": before,
        "seconds": elapsed,
    }


def child(url: str) -> None:
    print(json.dumps(asyncio.run(iterate(url))))


def run(smoke: bool) -> Section:
    total = SMOKE_ITEMS if smoke else FULL_ITEMS
    runs = SMOKE_RUNS if smoke else FULL_RUNS
    results = []
    with serve(ServerConfig(total_items=total)) as url:
        for run_index in range(runs):
            # A fresh interpreter per run: peak RSS only ever grows within a process.
            done = subprocess.run(
                [sys.executable, "-c", f"from benchmarks.streaming import child; child({url!r})"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if result["items"] != total:
                raise AssertionError(f"iterated {result['items']} items, expected {total}")
            results.append(result)
            print(
                f"  run {run_index + 1}/{runs}: {result['items']:,} items in "
                f"{result['seconds']:.1f} s, RSS before loop {fmt_mb(result['before_mb'])}, "
                f"peak growth {fmt_mb(result['growth_mb'])}",
                flush=True,
            )
    growth = median([r["growth_mb"] for r in results])
    seconds = median([r["seconds"] for r in results])
    pages = -(-total // PAGE_SIZE)
    return Section(
        name="streaming",
        title="5. Streaming memory",
        setup=[
            f"Median of {runs} runs, each in a fresh interpreter: {total:,} work items, "
            f"{pages:,} pages of {PAGE_SIZE} (filter's documented cap is 200,000 results, "
            "so the whole set is legal), 20 fields per item, about 580 KB per page.",
            "Measured: peak RSS (VmHWM) minus RSS right before `async for`, i.e. everything "
            "the iteration holds at its worst: a page's body, its decoded models, the decoder, "
            "and the generated model modules the first call imports.",
        ],
        columns=["items", "pages", "peak RSS growth", "time", "items/s"],
        rows=[
            [
                f"{total:,}",
                f"{pages:,}",
                fmt_mb(growth),
                f"{seconds:.1f} s",
                f"{total / seconds:,.0f}",
            ]
        ],
        targets=[Target("peak RSS growth < 50 MB", growth, 50.0, False, fmt_mb(growth))],
    )


if __name__ == "__main__":
    cli(run, __doc__ or "")
