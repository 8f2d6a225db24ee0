"""Mirror work items into a store, reading only what changed since the previous run.

Each work item type is read in *passes* over the filter endpoint:

- a full pass (the first run, or ``full=True``) reads every item created before the pass
  began, then marks the stored items it did not see as deleted;
- an incremental pass reads the items whose ``updated_at`` lies between the high-water
  mark minus ``overlap`` (a change stamped late, or by a clock a little behind ours, is not
  lost between runs) and the moment the pass began.

The filter pages by offset and its page names no order, so a pass pins its upper bound
(what changes meanwhile waits for the next run) and checks that every page reports the
total the first one did: an item leaving the result mid-pass shifts later items onto pages
already read, so such a pass is run again (up to ``attempts`` times) before it counts.

Every page goes to the sink in one transaction together with the pass's cursor, and the
high-water mark moves only when the last page is committed. A run killed at any point
leaves every stored item whole; the next run resumes the unfinished pass from its cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiofeishu._filter_pages import PAGE_SIZE, read_filter_page
from aiofeishu._project_client import ProjectClient

__all__ = ["PageCounts", "SyncPass", "SyncSink", "SyncState", "SyncStats", "sync_work_items"]

DEFAULT_OVERLAP = 300.0  # seconds re-read before the high-water mark on every run


@dataclass
class SyncPass:
    """An unfinished pass over one work item type; stored with every page it commits."""

    full: bool
    started_at: int
    """Milliseconds: the pass's upper bound, its id, and the next high-water mark."""
    since: int | None = None
    """Milliseconds: the lower ``updated_at`` bound of an incremental pass."""
    next_page: int = 1
    total: int | None = None
    """The total the pass's first page reported."""
    attempt: int = 1

    def conditions(self) -> dict[str, Any]:
        """The filter arguments that pin this pass's result."""
        if self.full:
            return {"created_at": {"end": self.started_at}}
        return {"updated_at": {"start": self.since or 0, "end": self.started_at}}


@dataclass
class SyncState:
    high_water_mark: int | None = None
    """Milliseconds: every change before it (less the overlap) is in the store."""
    pending: SyncPass | None = None


@dataclass
class PageCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


class SyncSink(Protocol):
    """Where a sync keeps items and its state. Each method is one transaction."""

    def load(self, project_key: str, type_key: str) -> SyncState:
        """The state the last committed page or pass left for this type."""
        ...

    def write_page(
        self,
        project_key: str,
        type_key: str,
        items: Sequence[Mapping[str, Any]],
        pending: SyncPass,
    ) -> PageCounts:
        """Upsert ``items`` as seen by ``pending.started_at`` (not deleted) and store ``pending``."""
        ...

    def unseen(self, project_key: str, type_key: str, done: SyncPass) -> list[int]:
        """Ids of the stored, not deleted items of this type that ``done`` did not write."""
        ...

    def finish_pass(
        self, project_key: str, type_key: str, done: SyncPass, deleted: Sequence[int]
    ) -> int:
        """Mark the items ``deleted`` as deleted, set the high-water mark to
        ``done.started_at`` and drop the cursor; returns how many items were newly marked."""
        ...


@dataclass
class SyncStats:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    calls: int = 0
    passes: int = 0
    elapsed: float = 0.0
    unsettled: list[str] = field(default_factory=list)
    """Types whose result kept changing while read: their high-water mark did not move."""

    def add(self, counts: PageCounts) -> None:
        self.inserted += counts.inserted
        self.updated += counts.updated
        self.unchanged += counts.unchanged


def _now_ms() -> int:
    return int(time.time() * 1000)


def _next_pass(state: SyncState, *, full: bool, overlap: float) -> SyncPass:
    pending = state.pending
    if pending is not None and (pending.full or not full):
        pending.attempt = 1  # finish what a killed run began (a full pass also covers a delta)
        return pending
    if full or state.high_water_mark is None:
        return SyncPass(full=True, started_at=_now_ms())
    since = max(0, state.high_water_mark - int(overlap * 1000))
    return SyncPass(full=False, started_at=_now_ms(), since=since)


async def _read_pass(
    client: ProjectClient,
    sink: SyncSink,
    project_key: str,
    type_key: str,
    current: SyncPass,
    *,
    page_size: int,
    stats: SyncStats,
    on_page: Callable[[str, int, int | None], None] | None,
) -> bool:
    """Read ``current`` from its next page to its end; True when every page agreed on the total."""
    while True:
        page = await read_filter_page(
            client,
            project_key=project_key,
            type_key=type_key,
            page_num=current.next_page,
            page_size=page_size,
            **current.conditions(),
        )
        stats.calls += 1
        if current.next_page == 1 and current.total is None:
            current.total = page.total
        settled = page.total == current.total
        current.next_page += 1
        stats.add(sink.write_page(project_key, type_key, page.items, current))
        stats.read += len(page.items)
        if on_page is not None:
            on_page(type_key, len(page.items), page.total)
        if not settled:
            return False
        read_all = page.total is not None and (current.next_page - 1) * page_size >= page.total
        if len(page.items) < page_size or read_all:
            return True


async def _confirm_deleted(
    client: ProjectClient,
    sink: SyncSink,
    project_key: str,
    type_key: str,
    done: SyncPass,
    stats: SyncStats,
) -> list[int]:
    """The unseen items the server does not return by id either. Asking again costs a call
    per 200 candidates and keeps an item that paging missed (the order the filter pages in
    is not documented) from being marked deleted."""
    candidates = sink.unseen(project_key, type_key, done)
    gone: list[int] = []
    for start in range(0, len(candidates), PAGE_SIZE):
        chunk = candidates[start : start + PAGE_SIZE]
        page = await read_filter_page(
            client,
            project_key=project_key,
            type_key=type_key,
            page_num=1,
            page_size=PAGE_SIZE,
            work_item_ids=chunk,
        )
        stats.calls += 1
        stats.add(sink.write_page(project_key, type_key, page.items, done))
        stats.read += len(page.items)
        found = {item["id"] for item in page.items}
        gone += [wid for wid in chunk if wid not in found]
    return gone


async def _sync_type(
    client: ProjectClient,
    sink: SyncSink,
    project_key: str,
    type_key: str,
    current: SyncPass,
    *,
    attempts: int,
    stats: SyncStats,
    **read_options: Any,
) -> None:
    while True:
        stats.passes += 1
        if await _read_pass(
            client, sink, project_key, type_key, current, stats=stats, **read_options
        ):
            gone = (
                await _confirm_deleted(client, sink, project_key, type_key, current, stats)
                if current.full
                else []
            )
            stats.deleted += sink.finish_pass(project_key, type_key, current, gone)
            return
        if current.attempt >= attempts:
            stats.unsettled.append(type_key)
            return
        # Again, bounded by now: what left the result meanwhile is read as it is now.
        current = SyncPass(
            full=current.full,
            started_at=max(_now_ms(), current.started_at + 1),
            since=current.since,
            attempt=current.attempt + 1,
        )


async def sync_work_items(
    client: ProjectClient,
    *,
    project_key: str,
    work_item_types: Sequence[str],
    sink: SyncSink,
    full: bool = False,
    overlap: float = DEFAULT_OVERLAP,
    page_size: int = PAGE_SIZE,
    attempts: int = 3,
    on_page: Callable[[str, int, int | None], None] | None = None,
) -> SyncStats:
    """Bring ``sink`` up to date with the work items of ``work_item_types`` in ``project_key``.

    ``on_page(type, items_in_page, total)`` is called after each page is committed.
    """
    if not work_item_types:
        raise ValueError("name at least one work item type")
    if not 1 <= page_size <= PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{PAGE_SIZE}, got {page_size}")
    if overlap < 0 or attempts < 1:
        raise ValueError("overlap must be >= 0 seconds and attempts >= 1")
    stats = SyncStats()
    started = time.perf_counter()
    for type_key in dict.fromkeys(work_item_types):
        current = _next_pass(sink.load(project_key, type_key), full=full, overlap=overlap)
        await _sync_type(
            client,
            sink,
            project_key,
            type_key,
            current,
            attempts=attempts,
            stats=stats,
            page_size=page_size,
            on_page=on_page,
        )
    stats.elapsed = time.perf_counter() - started
    return stats
