"""A local stand-in for the Feishu services, run in its own process.

Its own process, so its CPU time never counts as the client's and its event loop never
delays the client's timers. It issues tenant and plugin tokens, answers the OKR record get
with a fixed body, pages work_items.filter through ``total_items`` generated items, answers
any other path with an empty success, and, when given ``limits``, counts sliding windows
per path and answers 429 on overflow. ``GET /__stats`` returns arrival times, 429 counts
and how many tokens were fetched.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from benchmarks import _payloads

TENANT_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
PLUGIN_TOKEN_PATH = "/open_api/authen/plugin_token"


@dataclass
class ServerConfig:
    okr_body: bytes = b""
    limits: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # path → windows
    total_items: int = 0
    page_template_size: int = 200


def _json(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


class _App:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.rejected: dict[str, int] = defaultdict(int)
        self.token_fetches = 0
        self.windows: dict[tuple[str, float], deque[float]] = defaultdict(deque)
        self.template = [_payloads.work_item(i) for i in range(config.page_template_size)]
        self.empty = msgspec.json.encode({"data": [], "err_code": 0, "err_msg": "", "err": {}})

    def build(self) -> web.Application:
        middlewares = [self.limit] if self.config.limits else []
        app = web.Application(middlewares=middlewares)
        app.router.add_post(TENANT_TOKEN_PATH, self.tenant_token)
        app.router.add_post(PLUGIN_TOKEN_PATH, self.plugin_token)
        app.router.add_get("/__stats", self.stats)
        app.router.add_get("/open-apis/okr/v1/progress_records/{progress_id}", self.okr_record)
        app.router.add_post("/open_api/{project_key}/work_item/filter", self.filter_page)
        app.router.add_route("*", "/{tail:.*}", self.anything)
        return app

    @web.middleware
    async def limit(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        windows = self.config.limits.get(request.path)
        if windows:
            now = time.monotonic()  # arrival: headers parsed, body not read yet
            for limit, period in windows:
                window = self.windows[(request.path, period)]
                while window and window[0] <= now - period:
                    window.popleft()
                if len(window) >= limit:
                    self.rejected[request.path] += 1
                    body = b'{"err_code":10429,"err_msg":"API Request Frequency Limit","err":{}}'
                    return _json(body, status=429)
            for _limit, period in windows:
                self.windows[(request.path, period)].append(now)
            self.arrivals[request.path].append(now)
        return await handler(request)

    async def tenant_token(self, request: web.Request) -> web.Response:
        await request.read()
        return _json(b'{"code":0,"msg":"ok","tenant_access_token":"t-bench","expire":7200}')

    async def plugin_token(self, request: web.Request) -> web.Response:
        await request.read()
        self.token_fetches += 1
        return _json(
            b'{"data":{"token":"p-bench","expire_time":7200},"error":{"code":0,"msg":"success"}}'
        )

    async def stats(self, request: web.Request) -> web.Response:
        stats = {
            "arrivals": self.arrivals,
            "rejected": self.rejected,
            "token_fetches": self.token_fetches,
        }
        return _json(msgspec.json.encode(stats))

    async def okr_record(self, request: web.Request) -> web.Response:
        return _json(self.config.okr_body)

    async def filter_page(self, request: web.Request) -> web.Response:
        total = self.config.total_items
        if not total:
            await request.read()
            return _json(self.empty)
        args = await request.json()
        page_num, page_size = int(args.get("page_num", 1)), int(args.get("page_size", 50))
        start = (page_num - 1) * page_size
        count = max(0, min(page_size, total - start, len(self.template)))
        items = self.template[:count]
        for offset, item in enumerate(items):  # cheap distinct items: only the ids change
            item["id"] = 1_000_000 + start + offset
        page = _payloads.work_item_page(items, page_num, page_size, total)
        return _json(msgspec.json.encode(page))

    async def anything(self, request: web.Request) -> web.Response:
        await request.read()
        return _json(self.empty)


async def _main(config: ServerConfig, conn: Any) -> None:
    runner = web.AppRunner(_App(config).build(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    conn.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    conn.close()
    await asyncio.Event().wait()  # until the parent terminates this process


def _serve(config: ServerConfig, conn: Any) -> None:
    asyncio.run(_main(config, conn))


@contextmanager
def serve(config: ServerConfig) -> Iterator[str]:
    """Run the server in a fresh process; yields its base URL (http://127.0.0.1:PORT)."""
    context = multiprocessing.get_context(
        "spawn"
    )  # a clean interpreter, whatever the parent loaded
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_serve, args=(config, sender), daemon=True)
    process.start()
    try:
        if not receiver.poll(30):
            raise RuntimeError("the benchmark server did not start within 30 s")
        yield f"http://127.0.0.1:{receiver.recv()}"
    finally:
        process.terminate()
        process.join(5)


async def fetch_stats(session: Any, url: str) -> dict[str, Any]:
    """Arrival times (server clock, seconds) and 429 counts per path, token fetches."""
    async with session.get(url + "/__stats") as response:
        return msgspec.json.decode(await response.read())  # type: ignore[no-any-return]
