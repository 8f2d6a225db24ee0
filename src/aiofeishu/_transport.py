"""The transport seam: the one module that talks to aiohttp.

The request pipeline hands a :class:`WireRequest` and a ``depart`` callback to a
:class:`Transport` and gets a :class:`WireReply` (or a :class:`WireStream` for downloads)
back. ``depart`` must be awaited each time the request is about to reach the wire: the
rate windows count from there, and aiohttp re-sends a GET/PUT/DELETE by itself once when
a kept-alive connection drops, which must pass the limiter too.

:class:`AiohttpTransport` is the real one. Tests and users can supply their own (a fake
that answers from a function, a recorder) through ``ProjectClient(transport=...)``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import aiohttp

from aiofeishu._secrets import MaskedHeaders
from aiofeishu.errors import FeishuConnectionError, FeishuError, FeishuTimeoutError

__all__ = [
    "AiohttpTransport",
    "Depart",
    "FilePart",
    "Multipart",
    "Transport",
    "WireReply",
    "WireRequest",
    "WireStream",
]

Depart = Callable[[], Awaitable[None]]


@dataclass(slots=True, repr=False)
class FilePart:
    """One file of a multipart body: bytes, an open binary file or an async byte stream."""

    name: str
    filename: str
    content: bytes | IO[bytes] | AsyncIterable[bytes]
    content_type: str | None = None


@dataclass(slots=True, repr=False)
class Multipart:
    """A multipart/form-data body: plain fields, then files."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[FilePart] = field(default_factory=list)


@dataclass(slots=True, repr=False)
class WireRequest:
    """What goes on the wire. Its repr names the method and path only (never headers)."""

    method: str
    url: str
    path: str  # for messages: the URL without base and query
    headers: MaskedHeaders
    body: bytes | Multipart | None = None
    query: Mapping[str, str] | None = None
    timeout: float = 30.0

    def __repr__(self) -> str:
        return f"WireRequest({self.method} {self.path})"


@dataclass(slots=True, repr=False)
class WireReply:
    """An HTTP answer read whole. Its repr shows the status only (a body may hold a token)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        return f"WireReply(status={self.status}, {len(self.body)} bytes)"


class WireStream(Protocol):
    """An HTTP answer whose body is read in chunks (downloads). ``aclose()`` once done."""

    status: int
    headers: Mapping[str, str]

    def chunks(self, size: int) -> AsyncIterator[bytes]: ...

    async def read(self, limit: int) -> bytes: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Transport(Protocol):
    """Sends requests. Raises only FeishuConnectionError / FeishuTimeoutError (no chained
    causes: an aiohttp exception's request_info carries the request headers)."""

    async def send(self, request: WireRequest, depart: Depart) -> WireReply: ...

    async def open_stream(self, request: WireRequest, depart: Depart) -> WireStream: ...

    async def aclose(self) -> None: ...


# The departure callback of the request the current task is sending.
_departing: contextvars.ContextVar[Depart | None] = contextvars.ContextVar(
    "aiofeishu_departing", default=None
)


def _hook_departures(connector: aiohttp.BaseConnector) -> None:
    """Make ``connector`` await the current request's ``depart`` once its connection is ready.

    The headers go out right after ``connect`` returns, so this is the departure, also for
    aiohttp's own re-send. The connector instance is wrapped (not subclassed) so that a
    caller's own session gets the same precise timing.
    """
    if getattr(connector, "_aiofeishu_departures", False):
        return
    connect = connector.connect

    @functools.wraps(connect)
    async def connect_then_depart(req: Any, *args: Any, **kwargs: Any) -> Any:
        connection = await connect(req, *args, **kwargs)
        depart = _departing.get()
        if depart is not None:
            try:
                # connect can return to a task already told to cancel (measured: a call
                # cancelled while waiting for a lease then reached the wire): send nothing.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError
                await depart()
            except BaseException:
                connection.close()
                raise
        return connection

    connector.connect = connect_then_depart  # type: ignore[method-assign]
    connector._aiofeishu_departures = True  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=32)
def _client_timeout(total: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=total)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: what may be shown of a URL (no path, no userinfo)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else host


def _describe(exc: BaseException) -> str:
    # The kind, and for connection-level errors their own text; of a response error only
    # its status and message: its str and request_info carry the request's headers.
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__}: {exc.status} {exc.message}"
    if isinstance(exc, aiohttp.ClientConnectionError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def _failure(request: WireRequest, exc: BaseException, doing: str) -> FeishuError:
    where = f"{request.method} {request.path}: {doing}"
    if isinstance(exc, TimeoutError):
        return FeishuTimeoutError(f"{where}no complete response within {request.timeout:g}s")
    return FeishuConnectionError(where + _describe(exc))


class _AiohttpStream:
    __slots__ = ("_request", "_response", "headers", "status")

    def __init__(self, request: WireRequest, response: aiohttp.ClientResponse) -> None:
        self._request = request
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(size):
                yield chunk
            return
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = _failure(self._request, exc, "download interrupted: ")
        raise failure

    async def read(self, limit: int) -> bytes:
        try:
            return bytes(await self._response.content.read(limit))
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = _failure(self._request, exc, "reading the response: ")
        raise failure

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport:
    """:class:`Transport` over one aiohttp session (the caller's, or one it makes).

    Redirects are never followed (the APIs do not redirect; following would carry the
    token and body to another host). ``proxy`` / ``trust_env`` as in aiohttp.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        proxy: str | None = None,
        trust_env: bool = False,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._hooked: aiohttp.ClientSession | None = None
        self.proxy = proxy
        self.trust_env = trust_env

    def __repr__(self) -> str:
        proxy = origin(self.proxy) if self.proxy else None
        return f"AiohttpTransport(proxy={proxy!r}, own_session={self._owns_session})"

    def _ensure_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            if not self._owns_session:
                raise FeishuConnectionError("the aiohttp session passed to this client is closed")
            session = self._session = aiohttp.ClientSession(trust_env=self.trust_env)
        if session is not self._hooked and session.connector is not None:
            _hook_departures(session.connector)
            self._hooked = session
        return session

    async def aclose(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _request(self, request: WireRequest) -> Awaitable[aiohttp.ClientResponse]:
        session = self._session
        if session is None or session is not self._hooked or session.closed:
            session = self._ensure_session()
        # Headers as a plain dict: aiohttp copies it into a CIMultiDict at half the cost of
        # copying a dict subclass. Not bound to a local: a traceback captured with locals
        # shows none.
        if request.body is None and request.query is None and self.proxy is None:
            # Only the arguments this call needs: each keyword aiohttp is handed costs it
            # about 1,300 instructions to pass on (measured with callgrind), 1 % of a call.
            return session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                timeout=_client_timeout(request.timeout),
                allow_redirects=False,
            )
        return session.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=_aiohttp_body(request.body) if request.body is not None else None,
            params=request.query,
            timeout=_client_timeout(request.timeout),
            allow_redirects=False,
            proxy=self.proxy,
        )

    async def _response(self, request: WireRequest, depart: Depart) -> aiohttp.ClientResponse:
        token = _departing.set(depart)
        try:
            return await self._request(request)
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = _failure(request, exc, "")
        finally:
            _departing.reset(token)
        raise failure  # outside the except block: no chained aiohttp exception

    async def send(self, request: WireRequest, depart: Depart) -> WireReply:
        # _response and the read in one frame: this runs on every call.
        doing = ""
        token = _departing.set(depart)
        try:
            response = await self._request(request)
            doing = "reading the response: "
            try:
                return WireReply(response.status, response.headers, await response.read())
            finally:
                response.release()
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = _failure(request, exc, doing)
        finally:
            _departing.reset(token)
        raise failure  # outside the except block: no chained aiohttp exception

    async def open_stream(self, request: WireRequest, depart: Depart) -> WireStream:
        return _AiohttpStream(request, await self._response(request, depart))


def _aiohttp_body(body: bytes | Multipart | None) -> Any:
    if not isinstance(body, Multipart):
        return body
    form = aiohttp.FormData()
    for name, value in body.fields:
        form.add_field(name, value)
    for part in body.files:
        form.add_field(
            part.name, part.content, filename=part.filename, content_type=part.content_type
        )
    return form
