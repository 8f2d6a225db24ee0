"""A local HTTP server on 127.0.0.1 answering whatever the test scripts, recording every arrival.

    async with ScriptedServer(lambda arrival: Answer(200, b"{}")) as server:
        client = ProjectClient(..., base_url=server.url)

Unlike the sandbox (a stateful stand-in for Feishu), this one has no behaviour of
its own: the test's ``answer`` function decides status, headers and raw bytes (malformed
JSON, HTML, redirects), so the client's real transport reads them off a real socket.
Token requests go to ``answer`` too; :func:`token_answer` is the ordinary one.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

PLUGIN_TOKEN_PATH = "/open_api/authen/plugin_token"
TENANT_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
TOKEN_PATHS = (PLUGIN_TOKEN_PATH, TENANT_TOKEN_PATH)


@dataclass(frozen=True)
class Arrival:
    """One request as the server received it."""

    method: str
    path: str  # raw, still percent-encoded
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        """A request header's value ('' when absent), whatever the case of its name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")

    def text(self) -> str:
        """Everything that arrived, as one searchable string."""
        return f"{self.method} {self.path}?{self.query}\n{self.headers}\n" + self.body.decode(
            "utf-8", "replace"
        )


@dataclass(frozen=True)
class Answer:
    """What the server sends back. ``status=DROP`` closes the connection instead."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"


def json_answer(payload: Any, status: int = 200, **headers: str) -> Answer:
    return Answer(status, msgspec.json.encode(payload), headers)


def token_answer(path: str, token: str = "t-scripted-0001") -> Answer | None:
    """The ordinary answer of a token endpoint (None for any other path)."""
    if path == PLUGIN_TOKEN_PATH:
        return json_answer({"data": {"token": token, "expire_time": 7200}, "error": {"code": 0}})
    if path == TENANT_TOKEN_PATH:
        return json_answer({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200})
    return None


DROP = 0  # Answer(DROP): close the connection without answering


Script = Callable[[Arrival], Answer | Awaitable[Answer]]


class ScriptedServer:
    def __init__(self, answer: Script) -> None:
        self.answer = answer
        self.seen: list[Arrival] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> ScriptedServer:
        app = web.Application()
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._dispatch)  # any path, even with CR/LF
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def calls(self) -> list[Arrival]:
        """Arrivals other than token fetches."""
        return [a for a in self.seen if a.path not in TOKEN_PATHS]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        arrival = Arrival(
            request.method,
            request.raw_path.split("?")[0],
            request.query_string,
            dict(request.headers),
            await request.read(),
        )
        self.seen.append(arrival)
        answer = self.answer(arrival)
        if inspect.isawaitable(answer):
            answer = await answer
        if answer.status == DROP:
            assert request.transport is not None
            request.transport.close()  # the client sees the connection end without an answer
            return web.Response()
        response = web.Response(status=answer.status, body=answer.body, headers=answer.headers)
        if answer.content_type is not None:
            response.content_type = answer.content_type
        return response
