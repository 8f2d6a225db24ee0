"""What generated endpoint methods return and take: options, paginators, downloads, files."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec
from msgspec import UNSET

from aiofeishu.errors import ConfigurationError, InvalidResponseError, ResultLimitError

if TYPE_CHECKING:
    from aiofeishu._build import Prepared
    from aiofeishu._client import BaseClient
    from aiofeishu._endpoint import Endpoint, PageSpec

__all__ = [
    "Download",
    "FileInput",
    "FileUpload",
    "GroupAPI",
    "OptionsInput",
    "Paginated",
    "RequestOptions",
]

R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-call options, kept apart from the endpoint's own arguments (a body field may be
    named user_key).

    ``extra_body`` / ``extra_query`` / ``extra_headers`` send members the specs do not know
    yet (the known ones stay strictly validated and may not be repeated here).
    """

    user_key: str | None = None
    idempotency_key: str | None = None
    max_retries: int | None = None
    timeout: float | None = None
    extra_body: Mapping[str, Any] | None = None
    extra_query: Mapping[str, Any] | None = None
    extra_headers: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        for name in ("user_key", "idempotency_key"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, str) or not value or any(c in value for c in "\r\n\0")
            ):
                raise ConfigurationError(
                    f"RequestOptions.{name} must be a non-empty str without line breaks"
                )
        if self.max_retries is not None and (
            type(self.max_retries) is not int or self.max_retries < 0
        ):
            raise ConfigurationError("RequestOptions.max_retries must be an int >= 0")
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, (int, float))
            or not 0 < self.timeout < float("inf")
        ):
            raise ConfigurationError("RequestOptions.timeout must be a number of seconds > 0")
        for name in ("extra_body", "extra_query", "extra_headers"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise ConfigurationError(f"RequestOptions.{name} must be a mapping")

    @classmethod
    def coerce(cls, options: RequestOptions | Mapping[str, Any] | None) -> RequestOptions:
        """``options`` as RequestOptions: a mapping of its fields is accepted too."""
        if options is None:
            return NO_OPTIONS
        if isinstance(options, RequestOptions):
            return options
        if isinstance(options, Mapping):
            unknown = set(options) - set(cls.__slots__)
            if unknown:
                raise ConfigurationError(f"unknown request option(s) {sorted(unknown)}")
            return cls(**options)
        raise ConfigurationError(
            f"request_options must be RequestOptions, got {type(options).__name__}"
        )


NO_OPTIONS = RequestOptions()


@dataclass(frozen=True, slots=True)
class FileUpload:
    """A file to upload with an explicit name and content type."""

    content: bytes | str | os.PathLike[str] | AsyncIterable[bytes]
    filename: str | None = None
    content_type: str | None = None


FileInput = str | os.PathLike[str] | bytes | AsyncIterable[bytes] | FileUpload


class GroupAPI:
    """Base of the generated ``client.<group>`` classes."""

    __slots__ = ("_call", "_client")

    def __init__(self, client: Any) -> None:
        self._client: BaseClient = client
        # The client's own method, bound once: a generated method's call goes straight into
        # the pipeline (it runs on every call). Validates now, sends when awaited.
        self._call: Callable[[Endpoint, Mapping[str, Any], OptionsInput], Awaitable[Any]] = (
            client._call
        )

    def _paginate(self, endpoint: Endpoint, args: Mapping[str, Any], options: OptionsInput) -> Any:
        return Paginated(self._client, endpoint, args, options)

    def _download(
        self, endpoint: Endpoint, args: Mapping[str, Any], options: OptionsInput
    ) -> Download:
        return Download(self._client, endpoint, args, options)


OptionsInput = RequestOptions | Mapping[str, Any] | None


def _attr_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if obj is None:
            return None
        obj = getattr(obj, _snake(part), None)
    return obj


@functools.lru_cache(maxsize=256)
def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _page_items(page: Any, dotted: str) -> list[Any]:
    """A page's items; a page whose items member is one value (not a list) holds just that value."""
    found = _attr_path(page, dotted)
    if found is None or found is UNSET:
        return []
    return found if isinstance(found, list) else [found]


def _with_value(args: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``args[a][b]...`` for the dotted path ``a.b...``; a Struct argument becomes a plain dict."""
    top, *rest = dotted.split(".")
    if not rest:
        args[top] = value
        return
    current = args.get(top, UNSET)
    node: dict[str, Any] = {} if current is UNSET else dict(msgspec.to_builtins(current))
    args[top] = node
    for part in rest[:-1]:
        node[part] = node = dict(node.get(part) or {})
    node[rest[-1]] = value


def _known_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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
        options: OptionsInput,
    ) -> None:
        self._client = client
        self._endpoint = endpoint
        self._args = dict(args)
        self._options = RequestOptions.coerce(options)
        self._first: Prepared = client._prepare(endpoint, self._args, self._options)

    def __await__(self) -> Generator[Any, None, R]:
        return self._client._execute(self._first, self._options).__await__()  # type: ignore[no-any-return]

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        spec = self._endpoint.pagination
        assert spec is not None
        async for page in self.pages():
            for item in _page_items(page, spec.items):
                yield item

    async def pages(self) -> AsyncIterator[R]:
        spec = self._endpoint.pagination
        assert spec is not None
        walk = _PageWalk(self._endpoint, spec, dict(self._args))
        prepared = self._first
        if walk.args != self._args:
            prepared = self._client._prepare(self._endpoint, walk.args, self._options)
        while True:
            page = await self._client._execute(prepared, self._options)
            walk.check_total(page)
            yield page
            if not walk.advance(page):
                return
            prepared = self._client._prepare(self._endpoint, walk.args, self._options)


class _PageWalk:
    """Where a paged iteration stands and whether there is a next page."""

    def __init__(self, endpoint: Endpoint, spec: PageSpec, args: dict[str, Any]) -> None:
        self.endpoint = endpoint
        self.spec = spec
        self.args = args
        self.seen = 0
        self.cursors: set[Any] = set()
        if spec.style == "page":
            assert spec.page_param and spec.size_param
            if args.get(spec.size_param, UNSET) is UNSET and spec.max_page_size:
                args[spec.size_param] = spec.max_page_size
            page_num = _known_int(args.get(spec.page_param))
            args[spec.page_param] = 1 if page_num is None else page_num

    def check_total(self, page: Any) -> None:
        spec = self.spec
        total = _known_int(_attr_path(page, spec.total)) if spec.total else None
        if self.seen == 0 and spec.max_total and total is not None and total > spec.max_total:
            raise ResultLimitError(
                f"{self.endpoint.key}: {total} results exceed the {spec.max_total} the API can "
                "page through; narrow the filter (e.g. by created_at / updated_at) and iterate each part"
            )

    def advance(self, page: Any) -> bool:
        """Count ``page`` and move the arguments to the next page; False when it was the last."""
        spec = self.spec
        items = _page_items(page, spec.items)
        self.seen += len(items)
        more = _attr_path(page, spec.has_more) if spec.has_more else None
        if not items or more is False:
            return False
        if spec.style == "page":
            return self._next_page(page, items)
        if spec.style == "search_after":
            return self._next_search_after(page)
        if spec.style == "offset":
            return self._next_offset(page, len(items))
        return self._next_cursor(page)

    def _next_offset(self, page: Any, count: int) -> bool:
        spec = self.spec
        assert spec.offset_param
        if not spec.has_more and count == 0:
            return False
        if spec.has_more and _attr_path(page, spec.has_more) is not True:
            return False
        start = _known_int(self.args.get(spec.offset_param))
        self.args[spec.offset_param] = (start or 0) + count
        return True

    def _next_page(self, page: Any, items: list[Any]) -> bool:
        spec = self.spec
        assert spec.page_param and spec.size_param
        count = len(items)
        size = _known_int(self.args.get(spec.size_param))
        total = _known_int(_attr_path(page, spec.total)) if spec.total else None
        if (size is not None and count < size) or (total is not None and self.seen >= total):
            return False
        if size is None and total is None:
            # Nothing says where the end is but an empty page: a server that keeps sending
            # the same page would be paged forever.
            self._refuse_repeat(items)
        if spec.max_total and self.seen >= spec.max_total:
            raise ResultLimitError(
                f"{self.endpoint.key}: reached the {spec.max_total}-result cap with more to come; "
                "narrow the filter"
            )
        self.args[spec.page_param] += 1
        return True

    def _next_cursor(self, page: Any) -> bool:
        spec = self.spec
        assert spec.cursor_param
        cursor = _attr_path(page, spec.next_cursor) if spec.next_cursor else None
        if cursor in (None, "", UNSET):
            return False
        self._refuse_repeat(cursor)
        self.args[spec.cursor_param] = cursor
        return True

    def _next_search_after(self, page: Any) -> bool:
        """Copy the page's search_after / pit (``carry``) into the next request."""
        carry = self.spec.carry
        values = [_attr_path(page, response_path) for _, response_path in carry]
        if values[0] in (None, "", UNSET):  # the first carried member is the cursor itself
            return False
        self._refuse_repeat(values)
        for (request_path, _), value in zip(carry, values, strict=True):
            if value is not None and value is not UNSET:
                _with_value(self.args, request_path, value)
        return True

    def _refuse_repeat(self, cursor: Any) -> None:
        key = msgspec.json.encode(cursor)
        if key in self.cursors:
            raise InvalidResponseError(
                "the server returned a cursor it had already returned; stopping rather than "
                "paging forever",
                status=200,
                excerpt="",
                method=self.endpoint.method,
                path=self.endpoint.path,
            )
        self.cursors.add(key)


class Download:
    """A file download: ``await d.to_file(path)`` or ``async for chunk in d`` — never all in memory.

    Arguments are validated when the method is called, before anything is sent.
    """

    def __init__(
        self, client: BaseClient, endpoint: Endpoint, args: Mapping[str, Any], options: OptionsInput
    ) -> None:
        self._client = client
        self._options = RequestOptions.coerce(options)
        self._prepared = client._prepare(endpoint, args, self._options)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._client._download(self._prepared, self._options)

    async def to_file(self, path: str | os.PathLike[str], *, chunk_size: int = 1 << 16) -> int:
        """Write the file to ``path`` (replaced only when the download completes); returns its size."""
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        size = 0
        try:
            with partial.open("wb") as fh:
                async for chunk in self._client._download(
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
