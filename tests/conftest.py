"""Shared fixtures. Fakes live at the SDK's transport seam (tests/mock_transport.py) or are
real servers on their own threads (the sandbox, tests/wire_servers.py): nothing here
patches aiohttp."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks._redis_server import RedisServer, running_redis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server for the session (tests keep apart by namespace)."""
    with running_redis() as server:
        yield server
