"""Export work items to JSON Lines through paged filter calls: constant memory, resumable.

Each page is written (and flushed) as it arrives, then a small progress file beside the
output records, per work item type, the pages done and the file's size after them. A run
with ``resume=True`` cuts the file back to the last recorded size (dropping a page that was
half written when the previous run died), skips ids already in the file, and goes on from
the next page — so a resumed export never writes a line twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from aiofeishu._project_client import ProjectClient

__all__ = ["ExportStats", "export_work_items"]

PAGE_SIZE = 200  # the filter endpoint's maximum (page 18)


@dataclass
class ExportStats:
    written: int = 0
    skipped_duplicates: int = 0
    pages: int = 0
    total: dict[str, int] = field(default_factory=dict)  # by type, as the server counts


def _progress_path(out: Path) -> Path:
    return out.with_name(out.name + ".progress")


def _load_progress(out: Path) -> dict[str, Any]:
    path = _progress_path(out)
    if not path.exists():
        return {"types": {}, "size": 0}
    try:
        progress = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(
            f"{path} is not a progress file ({exc}); delete it to start over"
        ) from None
    if not isinstance(progress, dict) or not isinstance(progress.get("types"), dict):
        raise ValueError(f"{path} is not a progress file; delete it to start over")
    return progress


def _save_progress(out: Path, progress: dict[str, Any]) -> None:
    path = _progress_path(out)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(progress), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a crash leaves the old or the new record, never half


def _ids_in(out: Path) -> set[int]:
    ids: set[int] = set()
    with out.open("rb") as f:
        for line in f:
            if line.strip():
                ids.add(int(json.loads(line)["id"]))
    return ids


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
    if resume and path.exists():
        progress = _load_progress(path)
        with path.open("r+b") as f:
            f.truncate(progress["size"])  # drop whatever followed the last whole page
        seen = _ids_in(path)
    else:
        progress, seen = {"types": {}, "size": 0}, set()
        path.write_bytes(b"")
    stats = ExportStats()
    encoder = msgspec.json.Encoder()
    with path.open("ab") as f:
        for type_key in work_item_types:
            done = int(progress["types"].get(type_key, 0))
            page_num = done + 1
            while True:
                page = await client.work_items.filter(
                    project_key=project_key,
                    work_item_type_keys=[type_key],
                    page_num=page_num,
                    page_size=page_size,
                )
                # The raw items, not the decoded models: fields the models do not know yet
                # are exported too.
                items = (page.raw_json() or {}).get("data") or []
                total = page.pagination.total if page.pagination else None
                stats.total[type_key] = total if isinstance(total, int) else len(items)
                lines = []
                for item in items:
                    if item["id"] in seen:
                        stats.skipped_duplicates += 1
                        continue
                    seen.add(item["id"])
                    lines.append(encoder.encode(item))
                f.write(b"\n".join(lines) + (b"\n" if lines else b""))
                f.flush()
                stats.written += len(lines)
                stats.pages += 1
                progress["types"][type_key] = page_num
                progress["size"] = f.tell()
                _save_progress(path, progress)
                if on_page is not None:
                    on_page(type_key, len(items), stats.total[type_key])
                if not items or page_num * page_size >= stats.total[type_key]:
                    break
                page_num += 1
    return stats
