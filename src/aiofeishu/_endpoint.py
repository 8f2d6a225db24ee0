"""Endpoint descriptors: what the generated registry says about each endpoint."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PageSpec:
    """How an endpoint pages (from the spec's `pagination`)."""

    style: str
    page_param: str | None = None
    size_param: str | None = None
    items: str = "data"
    total: str | None = None
    max_page_size: int | None = None
    max_total: int | None = None
    cursor_param: str | None = None
    next_cursor: str | None = None
    has_more: str | None = None
    # style search_after: (dotted request path, dotted response path) copied into each next request
    carry: tuple[tuple[str, str], ...] = ()
    offset_param: str | None = None  # style offset


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint. ``getattr(getattr(client, e.group), e.name)`` is its method."""

    platform: str
    group: str
    name: str
    method: str
    path: str
    summary: str
    doc: str
    writes: bool
    rate_limit: str
    windows: tuple[tuple[int, float], ...]
    auth: str
    user_key: str
    envelope: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body_params: tuple[str, ...]
    file_params: tuple[str, ...]
    multipart: bool
    download: bool
    pagination: PageSpec | None
    errors: tuple[int, ...]
    request_type_name: str
    response_type_name: str
    types: tuple[type[Any], type[Any]] | None = None  # hand-written endpoints carry their own types
    concurrency: int | None = None  # calls in flight at most per token (None: no bound)

    @property
    def key(self) -> str:
        """``METHOD /path`` exactly as in ENDPOINTS.tsv."""
        return f"{self.method} {self.path}"

    @property
    def request_type(self) -> type[Any]:
        """The strict Struct holding every argument (loads the generated module on first use)."""
        if self.types is not None:
            return self.types[0]
        return _generated_type(self.platform, "requests", self.request_type_name)

    @property
    def response_type(self) -> type[Any]:
        """The response Struct (loads the generated module on first use)."""
        if self.types is not None:
            return self.types[1]
        return _generated_type(self.platform, "models", self.response_type_name)


# Resolved once: every call reads its endpoint's types, and import_module is not free.
_types: dict[tuple[str, str, str], type[Any]] = {}


def _generated_type(platform: str, module: str, name: str) -> type[Any]:
    key = (platform, module, name)
    found = _types.get(key)
    if found is None:
        found = _types[key] = getattr(
            importlib.import_module(f"aiofeishu.{platform}.{module}"), name
        )
    return found
