"""A SQLite mirror of work items (the standard library's sqlite3), for ``sync_work_items``.

Tables:

- ``work_items``: ``id`` (primary key), ``project_key``, ``work_item_type_key``, ``name``,
  ``updated_at`` (ms), ``deleted`` (0/1), ``seen_pass`` (the sync pass that last read it)
  and ``json``, the item as received with every field, unknown ones too;
- ``sync_state``: per project and type, the high-water mark and the unfinished pass.

Every method is one transaction, so a reader (or a crash) never sees half a page.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from types import TracebackType
from typing import Any

import msgspec

from aiofeishu.errors import FeishuError
from aiofeishu.sync import PageCounts, SyncPass, SyncState

__all__ = ["SQLiteSink"]

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS work_items (
    id INTEGER PRIMARY KEY,
    project_key TEXT NOT NULL,
    work_item_type_key TEXT NOT NULL,
    name TEXT,
    updated_at INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    seen_pass INTEGER,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS work_items_by_type
    ON work_items (project_key, work_item_type_key, deleted);
CREATE TABLE IF NOT EXISTS sync_state (
    project_key TEXT NOT NULL,
    work_item_type_key TEXT NOT NULL,
    high_water_mark INTEGER,
    pending TEXT,
    PRIMARY KEY (project_key, work_item_type_key)
);
"""

UPSERT = """
INSERT INTO work_items
    (id, project_key, work_item_type_key, name, updated_at, deleted, seen_pass, json)
VALUES (?, ?, ?, ?, ?, 0, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    project_key = excluded.project_key, work_item_type_key = excluded.work_item_type_key,
    name = excluded.name, updated_at = excluded.updated_at, deleted = 0,
    seen_pass = excluded.seen_pass, json = excluded.json
"""


class SQLiteSink:
    """``SQLiteSink("items.sqlite")``: creates the tables on first use; use it as a context
    manager (or call ``close()``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            # isolation_level=None: no implicit transactions; each method opens its own.
            self._db = sqlite3.connect(self.path, isolation_level=None)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise FeishuError(f"{self.path}: mirror schema {version}, this SDK writes 1")
            with self._transaction():
                for statement in SCHEMA.split(";"):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise FeishuError(f"{self.path}: not a usable SQLite mirror ({exc})") from None

    def __repr__(self) -> str:
        return f"SQLiteSink({self.path!r})"

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def load(self, project_key: str, type_key: str) -> SyncState:
        row = self._db.execute(
            "SELECT high_water_mark, pending FROM sync_state"
            " WHERE project_key = ? AND work_item_type_key = ?",
            (project_key, type_key),
        ).fetchone()
        if row is None:
            return SyncState()
        pending = SyncPass(**json.loads(row[1])) if row[1] else None
        return SyncState(high_water_mark=row[0], pending=pending)

    def _save_pending(self, project_key: str, type_key: str, pending: SyncPass) -> None:
        self._db.execute(
            "INSERT INTO sync_state VALUES (?, ?, NULL, ?)"
            " ON CONFLICT (project_key, work_item_type_key) DO UPDATE SET"
            " pending = excluded.pending",
            (project_key, type_key, json.dumps(asdict(pending))),
        )

    def write_page(
        self,
        project_key: str,
        type_key: str,
        items: Sequence[Mapping[str, Any]],
        pending: SyncPass,
    ) -> PageCounts:
        counts = PageCounts()
        encoder = msgspec.json.Encoder()
        with self._transaction():
            stored = self._stored([item["id"] for item in items])
            rows = []
            for item in items:
                text = encoder.encode(item).decode()
                before = stored.get(item["id"])
                if before is None:
                    counts.inserted += 1
                elif before == (text, 0):
                    counts.unchanged += 1
                else:
                    counts.updated += 1
                rows.append(_row(item, project_key, type_key, pending.started_at, text))
            self._db.executemany(UPSERT, rows)
            self._save_pending(project_key, type_key, pending)
        return counts

    def _stored(self, ids: Sequence[int]) -> dict[int, tuple[str, int]]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT id, json, deleted FROM work_items WHERE id IN ({marks})", list(ids)
        )
        return {wid: (text, deleted) for wid, text, deleted in rows}

    def unseen(self, project_key: str, type_key: str, done: SyncPass) -> list[int]:
        rows = self._db.execute(
            "SELECT id FROM work_items WHERE project_key = ? AND work_item_type_key = ?"
            " AND deleted = 0 AND seen_pass IS NOT ? ORDER BY id",
            (project_key, type_key, done.started_at),
        )
        return [wid for (wid,) in rows]

    def finish_pass(
        self, project_key: str, type_key: str, done: SyncPass, deleted: Sequence[int]
    ) -> int:
        with self._transaction():
            marked = self._db.executemany(
                "UPDATE work_items SET deleted = 1 WHERE id = ? AND deleted = 0",
                [(wid,) for wid in deleted],
            ).rowcount
            self._db.execute(
                "INSERT INTO sync_state VALUES (?, ?, ?, NULL)"
                " ON CONFLICT (project_key, work_item_type_key) DO UPDATE SET"
                " high_water_mark = excluded.high_water_mark, pending = NULL",
                (project_key, type_key, done.started_at),
            )
        return max(marked, 0)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _row(
    item: Mapping[str, Any], project_key: str, type_key: str, seen: int, text: str
) -> tuple[Any, ...]:
    # The scope's keys, not the item's: the item may name its space by id where the caller
    # used the simple_name, and state and deletion are kept per scope.
    updated_at = item.get("updated_at")
    name = item.get("name")
    return (
        item["id"],
        project_key,
        type_key,
        name if isinstance(name, str) else None,
        updated_at if isinstance(updated_at, int) else None,
        seen,
        text,
    )
