"""A fake at the SDK's own transport seam: answers requests from a function, records them.

    transport = MockTransport(lambda req: json_reply({"err_code": 0, "data": []}))
    client = ProjectClient("MII_x", "secret", user_key="u", transport=transport)

The handler gets each :class:`WireRequest` (after the client's limiter let it depart) and
returns a :class:`WireReply` (or raises FeishuConnectionError to simulate a failure).
Token requests are answered by the built-in token handler unless ``tokens=False``.

:class:`Routes` is a handler that answers by method and path from queued replies, for
tests that script a conversation (first a 401, then a success; page 1, then page 2)::

    routes = Routes()
    routes.add("POST", PLUGIN_TOKEN_PATH, plugin_token_reply("p-1"))
    routes.add("POST", "/open_api/p1/work_item/filter", ok([]), repeat=True)
    transport = MockTransport(routes, tokens=False)
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from aiofeishu._transport import Depart, Multipart, WireReply, WireRequest
from aiofeishu.errors import FeishuConnectionError

Handler = Callable[[WireRequest], WireReply | Awaitable[WireReply]]

PLUGIN_TOKEN_PATH = "/open_api/authen/plugin_token"
TENANT_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"


def json_reply(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> WireReply:
    """A JSON answer (``body`` encoded unless it is bytes already)."""
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return WireReply(status, {"Content-Type": "application/json", **(headers or {})}, raw)


def text_reply(text: str, status: int = 200, content_type: str = "text/html") -> WireReply:
    """A non-JSON answer (a gateway's HTML page, a login redirect's body)."""
    return WireReply(status, {"Content-Type": content_type}, text.encode())


def ok(data: Any = None, **extra: Any) -> WireReply:
    """A Feishu Project success envelope around ``data``."""
    return json_reply({"err_code": 0, "err_msg": "", "err": {}, "data": data, **extra})


def plugin_token_reply(token: str, expire_time: int = 7200) -> WireReply:
    return json_reply(
        {"data": {"token": token, "expire_time": expire_time}, "error": {"code": 0, "msg": ""}}
    )


def tenant_token_reply(token: str, expire: int = 7200) -> WireReply:
    return json_reply({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire})


Answer = WireReply | BaseException | Handler


@dataclass
class Routes:
    """Answers ``(method, path)`` (the path as sent: quoted, no query) from queued answers.

    Each answer is used once, in the order added; one added with ``repeat=True`` answers
    every request from then on. An answer is a reply, an exception to raise (as a
    transport would: FeishuConnectionError / FeishuTimeoutError) or a handler. A request
    nothing answers fails as a refused connection would, so it cannot pass unnoticed.
    """

    _queued: dict[tuple[str, str], deque[tuple[Answer, bool]]] = field(default_factory=dict)

    def add(self, method: str, path: str, answer: Answer, *, repeat: bool = False) -> None:
        self._queued.setdefault((method, path), deque()).append((answer, repeat))

    async def __call__(self, request: WireRequest) -> WireReply:
        queue = self._queued.get((request.method, request.path))
        if not queue:
            raise FeishuConnectionError(f"{request.method} {request.path}: no route (test)")
        answer, repeat = queue[0]
        if not repeat:
            queue.popleft()
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, WireReply):
            return answer
        result = answer(request)
        return await result if inspect.isawaitable(result) else result


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str]
    raw: bytes | None = None  # the body as sent, when it was bytes
    at: float = 0.0  # the running loop's time() at departure


@dataclass
class MockTransport:
    handler: Handler
    tokens: bool = True
    token: str = "t-plugin-0001"
    seen: list[Seen] = field(default_factory=list)
    token_fetches: int = 0
    closed: bool = False

    def _token_reply(self, request: WireRequest) -> WireReply | None:
        if not self.tokens:
            return None
        if request.path == PLUGIN_TOKEN_PATH:
            self.token_fetches += 1
            return plugin_token_reply(self.token)
        if request.path == TENANT_TOKEN_PATH:
            self.token_fetches += 1
            return tenant_token_reply(self.token)
        return None

    def calls(self, path_part: str = "") -> list[Seen]:
        """Requests other than token fetches, whose path contains ``path_part``."""
        return [
            s
            for s in self.seen
            if path_part in s.path and s.path not in (PLUGIN_TOKEN_PATH, TENANT_TOKEN_PATH)
        ]

    def sent(self, method: str, path: str) -> list[Seen]:
        """Requests to exactly ``method path`` (token fetches included), in order."""
        return [s for s in self.seen if s.method == method and s.path == path]

    async def send(self, request: WireRequest, depart: Depart) -> WireReply:
        await depart()
        body: Any = request.body
        if isinstance(body, bytes) and body:
            body = msgspec.json.decode(body)
        elif isinstance(body, Multipart):
            body = {"fields": dict(body.fields), "files": [f.name for f in body.files]}
        raw = request.body if isinstance(request.body, bytes) else None
        query = dict(request.query or {})
        at = asyncio.get_running_loop().time()
        headers = dict(request.headers)
        self.seen.append(Seen(request.method, request.path, headers, body, query, raw, at))
        reply = self._token_reply(request)
        if reply is not None:
            return reply
        result = self.handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def open_stream(self, request: WireRequest, depart: Depart) -> _Stream:
        return _Stream(await self.send(request, depart))

    async def aclose(self) -> None:
        self.closed = True


class _Stream:
    def __init__(self, reply: WireReply) -> None:
        self.status = reply.status
        self.headers = reply.headers
        self._body = reply.body
        self._offset = 0

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        while self._offset < len(self._body):
            chunk = self._body[self._offset : self._offset + size]
            self._offset += len(chunk)
            yield chunk

    async def read(self, limit: int) -> bytes:
        chunk = self._body[self._offset : self._offset + limit]
        self._offset += len(chunk)
        return chunk

    async def aclose(self) -> None:
        return None


@dataclass
class ScriptedTransport(MockTransport):
    """A MockTransport that answers from :class:`Routes` alone, token requests included:
    for tests that pin down every exchange, as a recorded conversation would."""

    handler: Routes = field(default_factory=Routes)
    tokens: bool = False

    def add(self, method: str, path: str, answer: Answer, *, repeat: bool = False) -> None:
        self.handler.add(method, path, answer, repeat=repeat)
