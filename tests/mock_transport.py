"""A fake at the SDK's own transport seam: answers requests from a function, records them.

    transport = MockTransport(lambda req: json_reply({"err_code": 0, "data": []}))
    client = ProjectClient("MII_x", "secret", user_key="u", transport=transport)

The handler gets each :class:`WireRequest` (after the client's limiter let it depart) and
returns a :class:`WireReply` (or raises FeishuConnectionError to simulate a failure).
Token requests are answered by the built-in token handler unless ``tokens=False``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from aiofeishu._transport import Depart, Multipart, WireReply, WireRequest

Handler = Callable[[WireRequest], WireReply | Awaitable[WireReply]]

PLUGIN_TOKEN_PATH = "/open_api/authen/plugin_token"
TENANT_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"


def json_reply(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> WireReply:
    """A JSON answer (``body`` encoded unless it is bytes already)."""
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return WireReply(status, {"Content-Type": "application/json", **(headers or {})}, raw)


def ok(data: Any = None, **extra: Any) -> WireReply:
    """A Feishu Project success envelope around ``data``."""
    return json_reply({"err_code": 0, "err_msg": "", "err": {}, "data": data, **extra})


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str]


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
            return json_reply({"data": {"token": self.token, "expire_time": 7200}, "error": {}})
        if request.path == TENANT_TOKEN_PATH:
            self.token_fetches += 1
            return json_reply(
                {"code": 0, "msg": "ok", "tenant_access_token": self.token, "expire": 7200}
            )
        return None

    def calls(self, path_part: str = "") -> list[Seen]:
        """Requests other than token fetches, whose path contains ``path_part``."""
        return [
            s
            for s in self.seen
            if path_part in s.path and s.path not in (PLUGIN_TOKEN_PATH, TENANT_TOKEN_PATH)
        ]

    async def send(self, request: WireRequest, depart: Depart) -> WireReply:
        await depart()
        body: Any = request.body
        if isinstance(body, bytes) and body:
            body = msgspec.json.decode(body)
        elif isinstance(body, Multipart):
            body = {"fields": dict(body.fields), "files": [f.name for f in body.files]}
        self.seen.append(
            Seen(
                request.method, request.path, dict(request.headers), body, dict(request.query or {})
            )
        )
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
