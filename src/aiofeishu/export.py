"""Export work items to JSON Lines through paged filter calls: constant memory, resumable.

Each page is written (and flushed) as it arrives, then a small progress file beside the
output records the file's size and, per work item type, whether it is done and the
(created_at, id) of the last item written.

A run resumes from *what was written*, not from a page number: while the server returns
items oldest first (checked on every page), ``resume=True`` cuts the file back to the last
recorded size (dropping a page half written when the previous run died), skips ids already
in the file and asks for the items created at or after the last written one, so items
deleted meanwhile cannot shift unread items onto pages already read. The same happens
within a run when a page reports a total other than its query's first page did. If the
server's order was ever not oldest first, a resumed type is read again from its start
instead, ids in the file skipped.

What a resumed export guarantees: every item that exists when the resumed run reads its
type is in the file exactly once; an item deleted after it was written stays (as it was
then); an item changed after it was written stays as it was when written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from aiofeishu._filter_pages import PAGE_SIZE, read_filter_page
from aiofeishu._project_client import ProjectClient

__all__ = ["ExportStats", "export_work_items"]

PROGRESS_VERSION = 2


@dataclass
class ExportStats:
    written: int = 0
    skipped_duplicates: int = 0
    pages: int = 0
    total: dict[str, int] = field(default_factory=dict)  # by type, as the server counts


@dataclass
class _TypeProgress:
    """How far one type got: ``after`` is the (created_at, id) of the last item written."""

    done: bool = False
    after: tuple[int, int] | None = None
    ordered: bool = True  # every page so far came oldest first

    def conditions(self) -> dict[str, Any]:
        if self.ordered and self.after is not None:
            return {"created_at": {"start": self.after[0]}}
        return {}


def _progress_path(out: Path) -> Path:
    return out.with_name(out.name + ".progress")


def _broken(path: Path, why: str) -> ValueError:
    return ValueError(f"{path} is not a progress file ({why}); delete it to start over")


def _load_progress(out: Path) -> tuple[int, dict[str, _TypeProgress]]:
    path = _progress_path(out)
    if not path.exists():
        return 0, {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise _broken(path, str(exc)) from None
    if not isinstance(record, dict) or record.get("version") != PROGRESS_VERSION:
        raise _broken(path, f"expected version {PROGRESS_VERSION}")
    try:
        types = {
            key: _TypeProgress(
                done=bool(value["done"]),
                after=(int(value["after"][0]), int(value["after"][1])) if value["after"] else None,
                ordered=bool(value["ordered"]),
            )
            for key, value in record["types"].items()
        }
        return int(record["size"]), types
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise _broken(path, f"bad member {exc}") from None


def _save_progress(out: Path, size: int, types: dict[str, _TypeProgress]) -> None:
    path = _progress_path(out)
    record = {
        "version": PROGRESS_VERSION,
        "size": size,
        "types": {
            key: {"done": p.done, "after": list(p.after) if p.after else None, "ordered": p.ordered}
            for key, p in types.items()
        },
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a crash leaves the old or the new record, never half


def _ids_in(out: Path) -> set[int]:
    ids: set[int] = set()
    with out.open("rb") as f:
        for line in f:
            if line.strip():
                ids.add(int(json.loads(line)["id"]))
    return ids


def _order_key(item: dict[str, Any]) -> tuple[int, int] | None:
    created = item.get("created_at")
    return (created, item["id"]) if isinstance(created, int) else None


class _Writer:
    """The output file, the ids in it and the progress record, moved on a page at a time."""

    def __init__(self, path: Path, f: IO[bytes], seen: set[int], stats: ExportStats) -> None:
        self.path, self.f, self.seen, self.stats = path, f, seen, stats
        self.types: dict[str, _TypeProgress] = {}
        self._encoder = msgspec.json.Encoder()

    def write_page(self, type_key: str, items: list[dict[str, Any]]) -> None:
        """Append the page's new items and record the progress."""
        progress = self.types[type_key]
        lines = []
        for item in items:
            key = _order_key(item)
            if key is None or (progress.after is not None and key < progress.after):
                progress.ordered = False
            elif progress.ordered:
                progress.after = key
            if item["id"] in self.seen:
                self.stats.skipped_duplicates += 1
                continue
            self.seen.add(item["id"])
            lines.append(self._encoder.encode(item))
        self.f.write(b"\n".join(lines) + (b"\n" if lines else b""))
        self.f.flush()
        self.stats.written += len(lines)
        self.stats.pages += 1
        _save_progress(self.path, self.f.tell(), self.types)

    def finish(self, type_key: str) -> None:
        self.types[type_key].done = True
        _save_progress(self.path, self.f.tell(), self.types)


async def _export_type(
    client: ProjectClient,
    writer: _Writer,
    project_key: str,
    type_key: str,
    page_size: int,
    on_page: Callable[[str, int, int], None] | None,
) -> None:
    progress = writer.types[type_key]
    conditions, page_num, query_total = progress.conditions(), 1, None
    while True:
        page = await read_filter_page(
            client,
            project_key=project_key,
            type_key=type_key,
            page_num=page_num,
            page_size=page_size,
            **conditions,
        )
        writer.stats.total.setdefault(
            type_key, len(page.items) if page.total is None else page.total
        )
        query_total = page.total if page_num == 1 else query_total
        writer.write_page(type_key, page.items)
        if on_page is not None:
            on_page(type_key, len(page.items), writer.stats.total[type_key])
        last = len(page.items) < page_size
        if last or (page.total is not None and page_num * page_size >= page.total):
            writer.finish(type_key)
            return
        if page.total != query_total and progress.ordered:
            # Items left or joined the result since its first page, shifting the pages:
            # ask again from the last item written (its created_at, ties skipped by id).
            conditions, page_num = progress.conditions(), 1
        elif progress.conditions() != conditions and not progress.ordered and conditions:
            # The order was not oldest first after all: read the type again from its start.
            conditions, page_num = {}, 1
        else:
            page_num += 1


async def export_work_items(
    client: ProjectClient,
    *,
    project_key: str,
    work_item_types: Sequence[str],
    out: str | os.PathLike[str],
    resume: bool = False,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[str, int, int], None] | None = None,
) -> ExportStats:
    """Write every work item of ``work_item_types`` in ``project_key`` to ``out`` (one JSON
    object a line, as the API returns it). ``on_page(type, items_in_page, total)`` is called
    after each page is on disk. Without ``resume`` an existing output is replaced."""
    if not work_item_types:
        raise ValueError("name at least one work item type")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    size, types = _load_progress(path) if resume and path.exists() else (0, {})
    if resume and path.exists():
        with path.open("r+b") as f:
            f.truncate(size)  # drop whatever followed the last whole page
        seen = _ids_in(path)
    else:
        seen = set()
        path.write_bytes(b"")
    stats = ExportStats()
    with path.open("ab") as f:
        writer = _Writer(path, f, seen, stats)
        for type_key in dict.fromkeys(work_item_types):
            writer.types[type_key] = types.get(type_key) or _TypeProgress()
            if not writer.types[type_key].done:
                await _export_type(client, writer, project_key, type_key, page_size, on_page)
    return stats
