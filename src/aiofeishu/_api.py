"""What generated endpoint methods return and take: options, paginators, downloads, files."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from msgspec import UNSET

from aiofeishu.errors import ResultLimitError

if TYPE_CHECKING:
    from aiofeishu._client import BaseClient, Prepared
    from aiofeishu._endpoint import Endpoint

__all__ = ["Download", "FileInput", "FileUpload", "GroupAPI", "Paginated", "RequestOptions"]

R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-call overrides, kept apart from the endpoint's own arguments (a body field may be named user_key)."""

    user_key: str | None = None
    idempotency_key: str | None = None
    max_retries: int | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class FileUpload:
    """A file to upload with an explicit name and content type."""

    content: bytes | str | os.PathLike[str] | AsyncIterable[bytes]
    filename: str | None = None
    content_type: str | None = None


FileInput = str | os.PathLike[str] | bytes | AsyncIterable[bytes] | FileUpload


class GroupAPI:
    """Base of the generated ``client.<group>`` classes."""

    __slots__ = ("_client",)

    def __init__(self, client: Any) -> None:
        self._client: BaseClient = client

    async def _call(
        self, endpoint: Endpoint, args: Mapping[str, Any], options: RequestOptions | None
    ) -> Any:
        return await self._client._send(self._client._prepare(endpoint, args), options)

    def _paginate(
        self, endpoint: Endpoint, args: Mapping[str, Any], options: RequestOptions | None
    ) -> Any:
        return Paginated(self._client, endpoint, args, options)

    def _download(
        self, endpoint: Endpoint, args: Mapping[str, Any], options: RequestOptions | None
    ) -> Download:
        return Download(self._client, self._client._prepare(endpoint, args), options)


def _attr_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if obj is None:
            return None
        obj = getattr(obj, re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", part).lower(), None)
    return obj


class Paginated(Generic[R, T]):
    """Result of a paged endpoint: ``await`` it for one page, ``async for`` it for every item.

    Arguments are validated when the method is called, before anything is sent.
    ``pages()`` iterates whole pages (response objects) instead of items.
    """

    def __init__(
        self,
        client: BaseClient,
        endpoint: Endpoint,
        args: Mapping[str, Any],
        options: RequestOptions | None,
    ) -> None:
        self._client = client
        self._endpoint = endpoint
        self._args = dict(args)
        self._options = options
        self._first: Prepared = client._prepare(endpoint, self._args)

    def __await__(self) -> Generator[Any, None, R]:
        return self._client._send(self._first, self._options).__await__()  # type: ignore[no-any-return]

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        spec = self._endpoint.pagination
        assert spec is not None
        async for page in self.pages():
            for item in _attr_path(page, spec.items) or ():
                yield item

    async def pages(self) -> AsyncIterator[R]:
        spec = self._endpoint.pagination
        assert spec is not None
        args = dict(self._args)
        prepared = self._first
        seen = 0
        if spec.style == "page":
            assert spec.page_param and spec.size_param
            if args.get(spec.size_param, UNSET) is UNSET and spec.max_page_size:
                args[spec.size_param] = spec.max_page_size
            page_num = args.get(spec.page_param, UNSET)
            page_num = 1 if page_num is UNSET else int(page_num)
            args[spec.page_param] = page_num
            prepared = self._client._prepare(self._endpoint, args)
        while True:
            page = await self._client._send(prepared, self._options)
            items = _attr_path(page, spec.items) or []
            total = _attr_path(page, spec.total) if spec.total else None
            if seen == 0 and spec.max_total and isinstance(total, int) and total > spec.max_total:
                raise ResultLimitError(
                    f"{self._endpoint.key}: {total} results exceed the {spec.max_total} the API can page "
                    "through; narrow the filter (e.g. by created_at / updated_at) and iterate each part"
                )
            yield page
            seen += len(items)
            if spec.style == "page":
                size = args[spec.size_param]  # type: ignore[index]
                if not items or len(items) < size or (isinstance(total, int) and seen >= total):
                    return
                if spec.max_total and seen >= spec.max_total:
                    raise ResultLimitError(
                        f"{self._endpoint.key}: reached the {spec.max_total}-result cap with more to come; narrow the filter"
                    )
                args[spec.page_param] = args[spec.page_param] + 1  # type: ignore[index]
            elif spec.style == "offset":
                more = _attr_path(page, spec.has_more) if spec.has_more else bool(items)
                if not items or not more:
                    return
                assert spec.offset_param
                start = args.get(spec.offset_param, UNSET)
                args[spec.offset_param] = (0 if start is UNSET else int(start)) + len(items)
            else:
                cursor = _attr_path(page, spec.next_cursor) if spec.next_cursor else None
                more = _attr_path(page, spec.has_more) if spec.has_more else bool(items)
                if not more or cursor in (None, "") or not items:
                    return
                assert spec.cursor_param
                args[spec.cursor_param] = cursor
            prepared = self._client._prepare(self._endpoint, args)


class Download:
    """A file download: ``await d.to_file(path)`` or ``async for chunk in d`` — never all in memory."""

    def __init__(
        self, client: BaseClient, prepared: Prepared, options: RequestOptions | None
    ) -> None:
        self._client = client
        self._prepared = prepared
        self._options = options

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._client._stream(self._prepared, self._options)

    async def to_file(self, path: str | os.PathLike[str], *, chunk_size: int = 1 << 16) -> int:
        """Write the file to ``path`` (replaced only when the download completes); returns its size."""
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        size = 0
        try:
            with partial.open("wb") as fh:
                async for chunk in self._client._stream(
                    self._prepared, self._options, chunk_size=chunk_size
                ):
                    fh.write(chunk)
                    size += len(chunk)
            partial.replace(target)
        finally:
            if partial.exists():
                partial.unlink()
        return size

    async def read(self) -> bytes:
        """The whole file in memory (for small files)."""
        return b"".join([chunk async for chunk in self])
