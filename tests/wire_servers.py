"""Real local servers for wire-level tests, each on its own thread and event loop.

A server on the test's own loop would stamp arrivals only when that loop gets round to
reading them; on its own thread the stamps are when the bytes arrived, give or take the
GIL, so server-counted windows mean what they say.

``ThreadedApp`` serves an aiohttp.web application. ``RawHTTPServer`` speaks just enough
HTTP/1.1 by hand to misbehave at the socket level (close a kept-alive connection without
answering).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

import msgspec
from aiohttp import web

T = TypeVar("T")

PLUGIN_TOKEN_PATH = "/open_api/authen/plugin_token"
TENANT_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
PLUGIN_TOKEN = "t-wire-plugin-token-0123456789"
TENANT_TOKEN = "t-wire-tenant-token-0123456789"

PLUGIN_TOKEN_BODY = {"data": {"token": PLUGIN_TOKEN, "expire_time": 7200}, "error": {"code": 0}}
TENANT_TOKEN_BODY = {"code": 0, "msg": "ok", "tenant_access_token": TENANT_TOKEN, "expire": 7200}
# A success answer of config.list_businesses (a GET of the default rate class).
BUSINESSES_BODY = {"err_code": 0, "err_msg": "", "err": {}, "data": []}


class _LoopThread:
    """An event loop running in a daemon thread; coroutines are handed to it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join)
        self.loop.close()


class _ThreadedServer:
    """A server started and stopped on a loop thread of its own (``async with``)."""

    _thread: _LoopThread | None = None

    async def _start(self) -> None:
        raise NotImplementedError

    async def _stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._thread = _LoopThread(type(self).__name__)
        await self._thread.run(self._start())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._thread is not None
        await self._thread.run(self._stop())
        await self._thread.stop()


class ThreadedApp(_ThreadedServer):
    """An aiohttp.web application on 127.0.0.1 (any free port) in its own thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server  # the bound socket tells the port chosen for port 0
        self.port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class Arrival:
    """One request a server read: when (time.monotonic), what, and on which connection."""

    at: float
    method: str
    target: str
    headers: dict[str, str]
    connection: int
    index_on_connection: int
    dropped: bool = False


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


# Decides, for a request, whether to drop the connection unanswered (None) or what JSON to send.
RawPolicy = Callable[[Arrival], Any]


@dataclass
class RawHTTPServer(_ThreadedServer):
    """A hand-written keep-alive HTTP/1.1 server: every request it reads is an arrival.

    ``policy(arrival)`` returns the JSON body to answer with, or None to close the
    connection without answering (what a server or middlebox dropping an idle kept-alive
    connection looks like to the client at the worst moment).
    """

    policy: RawPolicy
    arrivals: list[Arrival] = field(default_factory=list)
    url: str = ""
    _connections: int = 0
    _server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        connection, index = self._connections, 0
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                arrival = Arrival(
                    time.monotonic(),
                    request.method,
                    request.target,
                    request.headers,
                    connection,
                    index,
                )
                self.arrivals.append(arrival)
                index += 1
                body = self.policy(arrival)
                if body is None:
                    arrival.dropped = True
                    return
                writer.write(_response(body))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        header = (await reader.readline()).decode("latin-1").rstrip("\r\n")
        if not header:
            break
        name, _, value = header.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return RawRequest(method, target, headers, body)


def _response(body: Any) -> bytes:
    payload = msgspec.json.encode(body)
    head = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    )
    return head.encode("latin-1") + payload


def json_handler(
    answer: Callable[[web.Request], Awaitable[Any] | Any],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler answering ``answer(request)`` as JSON (a StreamResponse as is)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        result = answer(request)
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result)

    return handle


def token_answer(request: web.Request) -> Any:
    """The token answer for a token path, else None."""
    if request.path == PLUGIN_TOKEN_PATH:
        return PLUGIN_TOKEN_BODY
    if request.path == TENANT_TOKEN_PATH:
        return TENANT_TOKEN_BODY
    return None
