"""A small in-process stand-in for the Feishu services, for timing and concurrency tests.

It issues plugin / tenant tokens (with a TTL and revocation), enforces sliding-window
limits per (token, endpoint) answering 429 / 10429, de-duplicates writes by X-IDEM-UUID,
records every request it sees, and can drop a connection after committing a write.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request, dict[str, Any]], Awaitable[Any]]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class FakeFeishu:
    token_ttl: int = 7200
    limits: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    token_fetches: int = 0
    token_fetch_delay: float = 0.05
    revoked: set[str] = field(default_factory=set)
    drop_after_commit: int = 0
    work_items: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejected_429: int = 0

    def __post_init__(self) -> None:
        self._tokens: dict[str, float] = {}
        self._ids = itertools.count(1000)
        self._idem: dict[tuple[str, str, str], bytes] = {}
        self._windows: dict[tuple[str, str, float], deque[float]] = defaultdict(deque)
        self.app = web.Application(
            client_max_size=200 * 1024 * 1024
        )  # uploads up to the docs' 100 MB
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def on(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.handlers[(method, path)] = fn
            return fn

        return register

    def calls(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def max_in_window(self, path: str, period: float) -> int:
        """The most requests to `path` the server saw within any `period`."""
        times = sorted(s.at for s in self.calls(path))
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while times[lo] <= t - period:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    # -- dispatch --------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()  # arrival, before the body is read
        raw = await request.read()
        try:
            body = await request.json() if raw else None
        except ValueError:
            body = raw
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body, now))
        if request.path == "/open_api/authen/plugin_token":
            return await self._plugin_token()
        if request.path == "/open-apis/auth/v3/tenant_access_token/internal":
            return await self._tenant_token()
        token = request.headers.get("X-PLUGIN-TOKEN") or request.headers.get(
            "Authorization", ""
        ).removeprefix("Bearer ")
        if token not in self._tokens or token in self.revoked or self._tokens[token] < now:
            if request.path.startswith("/open-apis"):
                return web.json_response(
                    {"code": 99991663, "msg": "invalid access token"}, status=400
                )
            return web.json_response(
                {
                    "err_code": 10022,
                    "err_msg": "Check Token Failed",
                    "err": {"code": 10022, "msg": "expired"},
                },
                status=401,
            )
        for limit, period in self.limits.get(request.path, self.limits.get("*", [])):
            window = self._windows[(token, request.path, period)]
            while window and window[0] <= now - period:
                window.popleft()
            if len(window) >= limit:
                self.rejected_429 += 1
                return web.json_response(
                    {"err_code": 10429, "err_msg": "API Request Frequency Limit", "err": {}},
                    status=429,
                )
        for _limit, period in self.limits.get(request.path, self.limits.get("*", [])):
            self._windows[(token, request.path, period)].append(now)
        key = request.headers.get("X-IDEM-UUID")
        if key and (token[:2], request.path, key) in self._idem:
            return web.Response(
                body=self._idem[(token[:2], request.path, key)], content_type="application/json"
            )
        handler = self.handlers.get((request.method, request.path))
        if handler is None:
            return web.json_response(
                {"err_code": 30005, "err_msg": "not here", "err": {}}, status=404
            )
        result = await handler(request, {"body": body, "token": token})
        if isinstance(result, web.StreamResponse):
            return result
        payload = web.json_response(result)
        if key:
            self._idem[(token[:2], request.path, key)] = payload.body  # type: ignore[assignment]
            if self.drop_after_commit > 0:
                self.drop_after_commit -= 1
                assert request.transport is not None
                request.transport.close()  # committed, but the client never hears back
        return payload

    async def _plugin_token(self) -> web.Response:
        self.token_fetches += 1
        await asyncio.sleep(self.token_fetch_delay)
        token = f"p-{self.token_fetches:04d}"
        self._tokens[token] = time.monotonic() + self.token_ttl
        return web.json_response(
            {
                "data": {"token": token, "expire_time": self.token_ttl},
                "error": {"code": 0, "msg": "success"},
            }
        )

    async def _tenant_token(self) -> web.Response:
        self.token_fetches += 1
        token = f"t-{self.token_fetches:04d}"
        self._tokens[token] = time.monotonic() + self.token_ttl
        return web.json_response(
            {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": self.token_ttl}
        )

    def new_id(self) -> int:
        return next(self._ids)
