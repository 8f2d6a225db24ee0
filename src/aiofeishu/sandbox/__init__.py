"""An offline stand-in for the Feishu Project and Open Platform APIs, built from the specs.

It serves every endpoint of the SDK on a local port and enforces what the docs promise —
tokens and their expiry, X-USER-KEY, request validation with the docs' error codes,
per-token sliding-window rate limits, X-IDEM-UUID de-duplication — and keeps state for
work items, comments, subtasks, workflows, attachments, views, OKR progress records and
tasks. Other endpoints answer with their doc page's example::

    async with Sandbox() as sb:
        async with sb.project_client() as client:
            wid = (await client.work_items.create(
                project_key=sb.project_key, work_item_type_key="story", name="Try it")).data
        print(sb.received[-1].endpoint)  # "work_items.create"

``python -m aiofeishu.sandbox --port 8787`` runs one until interrupted.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from aiofeishu._open_client import OpenClient
from aiofeishu._project_client import ProjectClient
from aiofeishu.sandbox._app import Received, SandboxApp
from aiofeishu.sandbox._config import Faults, SandboxConfig

__all__ = ["Faults", "Received", "Sandbox", "SandboxConfig"]


class Sandbox:
    """A sandbox server on ``host:port`` (port 0: any free port) for the life of an
    ``async with`` block. Keyword arguments are those of ``SandboxConfig``.

    ``threaded=True`` serves from a thread with its own event loop, so the server's
    clock (rate-limit windows count arrivals) does not wait on the caller's busy loop.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        threaded: bool = False,
        **options: Any,
    ) -> None:
        if config is not None and options:
            raise TypeError("pass either a SandboxConfig or its keyword arguments, not both")
        self.config = config or SandboxConfig(**options)
        self.server = SandboxApp(self.config)
        self.host, self.port = host, port
        self.url = ""
        self.threaded = threaded
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Sandbox(url={self.url!r}, config={self.config!r})"

    async def start(self) -> None:
        if self.threaded:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="aiofeishu-sandbox", daemon=True
            )
            self._thread.start()
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._serve(), self._loop))
        else:
            await self._serve()
        self.url = f"http://{self.host}:{self.port}"

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.server.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server: Any = site._server  # the bound socket tells the port chosen for port 0
        self.port = server.sockets[0].getsockname()[1]

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close(self) -> None:
        if self._loop is None:
            await self._cleanup()
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._cleanup(), self._loop))
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        self._loop.close()
        self._loop, self._thread = None, None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what it holds ---------------------------------------------------------
    @property
    def received(self) -> list[Received]:
        """Every request, in arrival order, with tokens and secrets masked."""
        return self.server.received

    @property
    def state(self) -> Any:
        """The sandbox's memory: ``work_items``, ``comments``, ``views``, ``files``, …"""
        return self.server.state

    @property
    def project_key(self) -> str:
        return self.config.project_key

    def calls(self, endpoint: str) -> list[Received]:
        return self.server.calls(endpoint)

    def rate_limits(self) -> dict[str, tuple[tuple[int, float], ...]]:
        """The windows the sandbox enforces, by rate-limit class, for a client to use."""
        from aiofeishu.open.endpoints import ALL as OPEN_ALL
        from aiofeishu.project.endpoints import ALL as PROJECT_ALL

        return {e.rate_limit: self.config.scaled(e.windows) for e in (*PROJECT_ALL, *OPEN_ALL)}

    # -- clients ---------------------------------------------------------------
    def _client_options(self, options: dict[str, Any]) -> dict[str, Any]:
        options.setdefault("rate_limits", self.rate_limits())
        if self.config.time_scale != 1:
            # Keep an absolute safety margin of ~50 ms when windows shrink. The sandbox stamps
            # a request's arrival when its handler starts, after queueing behind other requests
            # in the same process; at 250 ms windows a 2 % margin (5 ms) saw 2-34 429s in 2,410
            # calls, 8 % still a few, 20 % none. At the real windows the client's own margin
            # holds, as it must against the vendor.
            options.setdefault("rate_limit_margin", min(0.25, 0.05 * self.config.time_scale))
        return options

    def project_client(self, **options: Any) -> ProjectClient:
        """A ProjectClient for this sandbox, with its demo credentials and its windows."""
        options.setdefault("user_key", self.config.user_key)
        self._client_options(options)
        return ProjectClient(
            self.config.plugin_id, self.config.plugin_secret, base_url=self.url, **options
        )

    def open_client(self, **options: Any) -> OpenClient:
        """An OpenClient for this sandbox, with its demo credentials and its windows."""
        self._client_options(options)
        return OpenClient(self.config.app_id, self.config.app_secret, base_url=self.url, **options)
