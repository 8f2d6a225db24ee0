"""Shared fixtures: the aioresponses shim and an in-process fake Feishu server."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from tests.fake_server import FakeFeishu
from tests.redis_server import RedisServer, running_redis


def _patch_aioresponses() -> None:
    # aioresponses 0.7.9 builds ClientResponse without `stream_writer`, which aiohttp >= 3.14
    # requires (upstream issue #289). Supply a stand-in until a fixed release exists.
    params = inspect.signature(aiohttp.ClientResponse.__init__).parameters
    if "stream_writer" not in params:
        return
    original = aiohttp.ClientResponse.__init__
    if getattr(original, "_aiofeishu_shim", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("stream_writer") is None:
            kwargs["stream_writer"] = SimpleNamespace(output_size=0)  # nothing was really sent
        original(self, *args, **kwargs)

    init._aiofeishu_shim = True  # type: ignore[attr-defined]
    aiohttp.ClientResponse.__init__ = init  # type: ignore[method-assign]


_patch_aioresponses()


@pytest.fixture
async def fake() -> AsyncIterator[FakeFeishu]:
    server = FakeFeishu()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server for the session (tests keep apart by namespace)."""
    with running_redis() as server:
        yield server
